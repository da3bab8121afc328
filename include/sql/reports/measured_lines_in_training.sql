-- Lines people typed on measured days (completions shown from $first on) that were a
-- training target before: in the same file (must be 0: the same code typed twice at the
-- same place) and in another file only (generic lines such as `return None`, reported).
-- Lines of at least $min_chars characters after trimming; files matched by their path in
-- the repository (the part of doc_uri after "/$repo/": each person has their own clone).
with

measured as (
    select distinct
        regexp_extract(doc_uri, '/' || $repo || '/(.*)$', 1) as relpath,
        trim(line) as line,
        shown_ds
    from staging.refinements,
        unnest(string_split(replace(final_text, chr(13), ''), chr(10))) as t(line)
    where shown_ds >= $first and length(trim(line)) >= $min_chars
),

trained as (
    select distinct
        regexp_extract(doc_uri, '/' || $repo || '/(.*)$', 1) as relpath,
        trim(line) as line,
        ds
    from training.examples,
        unnest(string_split(replace(target, chr(13), ''), chr(10))) as t(line)
    where source = 'refinement' and split = 'train' and length(trim(line)) >= $min_chars
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
