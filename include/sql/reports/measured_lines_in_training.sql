-- Lines people typed on measured days (completions shown from $first on, by the day on the
-- client's clock: shown_ds is the landing day, a day later for a late-delivered event) that were a
-- training target before: in the same file (must be 0: the same code typed twice at the
-- same place) and in another file only (generic lines such as `return None`, reported).
-- Whole lines: a completion's text joined to the rest of its first and last line (the end
-- of the prefix, the start of the suffix). A region that settled mid-line (the person typed
-- on after it) rebuilds only part of its line, and two lines can share that part
-- (`def __init__(self,` in two classes of one file), so a measured line counts only when
-- it is a whole line of the document its session ended with ($documents: the simulator's
-- documents.jsonl, one final text per session and file). Lines of at least $min_chars
-- characters after trimming; files matched by their path in the repository (the part of
-- doc_uri after "/$repo/": each person has their own clone).
with

typed_lines as (
    select distinct session_id, doc_uri, trim(line) as line
    from read_json($documents, format = 'newline_delimited',
                   columns = {session_id: 'varchar', doc_uri: 'varchar', final_text: 'varchar'}),
        unnest(string_split(replace(final_text, chr(13), ''), chr(10))) as t(line)
),

measured_text as (
    select
        session_id,
        doc_uri,
        regexp_extract(doc_uri, '/' || $repo || '/(.*)$', 1) as relpath,
        cast(shown_at as date) as shown_ds,
        regexp_extract(replace(prompt_prefix, chr(13), ''), '[^\n]*$')
        || replace(final_text, chr(13), '')
        || regexp_extract(replace(prompt_suffix, chr(13), ''), '^[^\n]*') as whole_text
    from staging.refinements
    where cast(shown_at as date) >= $first and trim(final_text) <> ''
),

measured as (
    select distinct relpath, trim(line) as line, shown_ds
    from measured_text, unnest(string_split(whole_text, chr(10))) as t(line)
    where length(trim(line)) >= $min_chars
        and (session_id, doc_uri, trim(line)) in (select (session_id, doc_uri, line) from typed_lines)
),

trained_text as (
    select
        regexp_extract(doc_uri, '/' || $repo || '/(.*)$', 1) as relpath,
        ds,
        regexp_extract(replace(prefix, chr(13), ''), '[^\n]*$')
        || replace(target, chr(13), '')
        || regexp_extract(replace(suffix, chr(13), ''), '^[^\n]*') as whole_text
    from training.examples
    where source = 'refinement' and split = 'train' and trim(target) <> ''
),

trained as (
    select distinct relpath, trim(line) as line, ds
    from trained_text, unnest(string_split(whole_text, chr(10))) as t(line)
    where length(trim(line)) >= $min_chars
),

final as (
    select
        count(*) as measured_lines,
        count(*) filter (where exists (
            select 1 from trained as t
            where t.line = m.line and t.relpath = m.relpath and t.ds < m.shown_ds
        )) as same_file,
        count(*) filter (where exists (
            select 1 from trained as t
            where t.line = m.line and t.relpath <> m.relpath and t.ds < m.shown_ds
        )) as other_file
    from measured as m
)

select * from final
