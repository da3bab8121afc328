-- Completions left waiting for later versions of their document (temp table _waiting,
-- filled by echo_ops.extract._versions_gone_back) whose document has an edit made after
-- the proposal by the client's clock yet carrying an older version: the counter went
-- backwards, so walking by version can never follow them.
select
    w.completion_id,
    w.shown_doc_version,
    min(e.doc_version) as backwards_version,
from _waiting as w
join staging.stg_telemetry__editor_events as e
    on e.session_id = w.session_id
    and e.doc_uri = w.doc_uri
    and e.ds between $lo and $ds
    and e.event_type = 'document.changed'
    and e.doc_version < w.shown_doc_version
    and e.event_at > w.shown_at
group by all
