-- Later copies (see event_copies.sql) whose content differs from the first: quarantined
-- with the line they came from, as (object_key, line_no, reason, raw_text).
with

later_copies as (
    select * from _copies where copy_no > 1
),

first_copies as (
    select * from _copies where copy_no = 1
),

conflicts as (
    select
        l.object_key,
        l.line_no,
        'duplicate_conflict: same {key} as an earlier line, other content' as reason,
        coalesce(r.payload, to_json(r)::varchar) as raw_text,
    from later_copies as l
    join first_copies as f on f.k = l.k and f.content <> l.content
    join raw.{source}_events as r
        on r.ds = $ds and r.object_key = l.object_key and r.line_no = l.line_no
)

select * from conflicts order by object_key, line_no
