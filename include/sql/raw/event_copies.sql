-- The copies of one day's events in raw.{source}_events that share a key ({key}: event_id
-- for client events, request_id for server events; delivery is at-least-once). Only keys
-- seen more than once are ranked: a window over the whole day costs seconds. A copy's
-- content is a hash of every column but where it came from; copy_no 1 is the one kept.
-- {source} and {key} are filled in by echo_ops.ingest (identifiers cannot be bound).
create or replace temp table _copies as

with

day_events as (
    select * from raw.{source}_events where ds = $ds
),

repeated_keys as (
    select {key} from day_events group by 1 having count(*) > 1
),

copies as (
    select
        object_key,
        line_no,
        {key} as k,
        hash(*columns(* exclude (ds, object_key, line_no))) as content,
        row_number() over (partition by {key} order by object_key, line_no) as copy_no,
    from day_events
    where {key} in (select {key} from repeated_keys)
)

select * from copies
