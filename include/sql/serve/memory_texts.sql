-- The team's code as the editors last saw it before a day: per document, the text of its
-- latest document.opened / document.snapshot event (echo_ops.memory's cache of settled code).
-- Only days before $before: nothing typed on the serving day is in it.
select payload ->> '$.text' as text
from raw.client_events
where ds < $before
    and type in ('document.opened', 'document.snapshot')
    and payload ->> '$.text' is not null
qualify row_number() over (partition by doc_uri order by ts desc, event_id desc) = 1
order by doc_uri
