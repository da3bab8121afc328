-- Lines people typed on measured days (completions shown from $first on, by the day on the
-- client's clock: shown_ds is the landing day, a day later for a late-delivered event) that were a
-- training target before: in the same file (must be 0: the same code typed twice at the
-- same place) and in another file only (generic lines such as `return None`, reported).
-- Whole lines: a completion's text joined to the rest of its first and last line (the end
-- of the prefix, the start of the suffix), so a fragment two different lines share
-- (`def __init__(self,`) is not one line typed twice. Lines of at least $min_chars
-- characters after trimming; files matched by their path in the repository (the part of
-- doc_uri after "/$repo/": each person has their own clone).
with

measured_text as (
    select
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
