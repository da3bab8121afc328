-- Completion requests of a window as the server logged them, shown or not: what a show gate
-- is calibrated on (echo_ops.offline.calibrated_gate). Replayed requests alone would not
-- do: they are the ones the serving model already chose to show. No outcome is read.
-- Spread over the window by a hash, the same rows every time.
select request_id, prompt_prefix as prefix, prompt_suffix as suffix
from raw.server_events
where ds between $first and $last
order by hash(request_id), request_id
limit $limit
