-- One shard's candidates to walk (temp tables _cand_docs and _walk_cands, filled by
-- echo_ops.extract.plan): their aligned rows without the prompts (the writer joins those
-- back), numbered by document, in walk order.
select
    w.doc_no,
    a.* exclude (prompt_prefix, prompt_suffix),
from _walk_cands as w
join _cand_docs as c on c.doc_no = w.doc_no
join staging.int_completions_aligned_to_events as a
    on a.ds = $ds and a.completion_id = w.completion_id
where c.shard = $shard
order by w.doc_no, a.shown_doc_version, a.completion_id
