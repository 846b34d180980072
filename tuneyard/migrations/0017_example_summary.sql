-- Exact summaries of the examples, kept by triggers in the transaction of every write, so that counts and stats over
-- the filters they can answer read a few hundred thousand summary rows however many examples there are.
--
-- One row per combination of what a filter or a stat can ask of an example without reading it: its UTC day, intent,
-- platform, model id, success, archived flag, quality bin and tag set. Its size grows with the days and the mix of
-- values in use, not with the number of examples: a year of a dozen intents on three platforms is ~150,000 rows
-- whether it holds ten million examples or a hundred million.
--
-- quality_bin: how many of the thresholds 0.05, 0.10, ..., 0.95 the score reaches (0..19), NULL without a score.
-- A score reaches 0.35 exactly when `score >= 0.35` holds in SQL (width_bucket compares, it does not multiply), so
-- `qualityScore: {gte: 0.35}` is `quality_bin >= 7`, and histograms of 1, 2, 4, 5, 10 or 20 buckets add up bins.
CREATE FUNCTION example_quality_bin(score double precision) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN width_bucket(score, '{0.05,0.1,0.15,0.2,0.25,0.3,0.35,0.4,0.45,0.5,0.55,0.6,0.65,0.7,0.75,0.8,0.85,0.9,0.95}'::float8[]);

CREATE TABLE example_summary (
    day          date NOT NULL,       -- created_at's date in UTC
    intent       text,
    platform     text,
    model_id     text,
    success      boolean,
    archived     boolean NOT NULL,
    quality_bin  smallint,
    tags         text[] NOT NULL,     -- the example's tags as example_tags keeps them (a sorted set); '{}' untagged
    n            bigint NOT NULL,
    score_sum    numeric NOT NULL,    -- of the scores (numeric: adding and taking away leaves no rounding behind)
    UNIQUE NULLS NOT DISTINCT (day, intent, platform, model_id, success, archived, quality_bin, tags)
);

-- The same by month (`day` is the month's first day): a twentieth of the rows at most, for filters without a time
-- range and the whole months of one. Kept by the fold beside example_summary, from the same changes.
CREATE TABLE example_summary_months (LIKE example_summary INCLUDING ALL);
-- The rows a fold emptied, which it then deletes: found without reading the others (a million at ten million examples).
CREATE INDEX example_summary_emptied_idx ON example_summary (day) WHERE n = 0;
CREATE INDEX example_summary_months_emptied_idx ON example_summary_months (day) WHERE n = 0;

-- What writes changed, not yet folded into example_summary: writers only append here, so concurrent writers never
-- wait on each other's summary rows (nor deadlock over them). Readers add both tables up in one statement, so a fold
-- (example_summary_fold, run by readers) never shows a change twice or not at all.
CREATE TABLE example_summary_changes (
    day          date NOT NULL,
    intent       text,
    platform     text,
    model_id     text,
    success      boolean,
    archived     boolean NOT NULL,
    quality_bin  smallint,
    tags         text[] NOT NULL,
    n            bigint NOT NULL,
    score_sum    numeric NOT NULL
);

-- A row's key joins the example's own columns with its tags, which other transactions write. Both triggers first take
-- the tag writers' lock (TAGS_LOCK in tuneyard/examples/models.py: every writer of example_tags holds it, and none of
-- them waits for an examples row while holding it), then read the other table in a statement of their own, with a
-- snapshot taken after it: an examples write then files its rows under the tags of every tag write committed before
-- it, and a tag write (which waits for the lock until such an examples write commits) under its columns after it.
-- Without it, an example re-recorded while being tagged was filed under a mix of the two. Inserting examples needs no
-- lock (nobody can tag an example before its insert commits), nor does an update that moves no example to another
-- key (a re-sent example whose content changed): most writes of examples take it not at all.

-- Examples written: +1 for each row as it is now, -1 for each row as it was (an update whose row keeps its place adds
-- up to nothing and is left out). The tags are read from example_tags, which a statement that writes examples does
-- not change (a purge deletes the tags in a statement before). Dynamic SQL: a trigger sees only its event's
-- transition tables, and one query naming the others would not plan.
CREATE FUNCTION example_summary_examples_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    moved boolean;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        EXECUTE $sql$
            SELECT EXISTS (
                SELECT FROM old_examples o JOIN new_examples n ON n.id = o.id
                WHERE ((o.created_at AT TIME ZONE 'UTC')::date, o.intent, o.platform, o.model_id, o.success, o.archived,
                       example_quality_bin(o.quality_score))
                   IS DISTINCT FROM ((n.created_at AT TIME ZONE 'UTC')::date, n.intent, n.platform, n.model_id,
                                     n.success, n.archived, example_quality_bin(n.quality_score)))
        $sql$ INTO moved;
        IF NOT moved THEN
            RETURN NULL;
        END IF;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        PERFORM pg_advisory_xact_lock(1952540531);
    END IF;
    EXECUTE format($sql$
        INSERT INTO example_summary_changes
        SELECT (e.created_at AT TIME ZONE 'UTC')::date, e.intent, e.platform, e.model_id, e.success, e.archived,
               example_quality_bin(e.quality_score), coalesce(t.tags, '{}'), sum(e.sign),
               coalesce(sum(e.sign * e.quality_score::numeric), 0)
        FROM (%s) e LEFT JOIN example_tags t ON t.example_id = e.id
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
        HAVING sum(e.sign) <> 0 OR coalesce(sum(e.sign * e.quality_score::numeric), 0) <> 0
        $sql$, CASE TG_OP
            WHEN 'INSERT' THEN 'SELECT n.*, 1 AS sign FROM new_examples n'
            WHEN 'DELETE' THEN 'SELECT o.*, -1 AS sign FROM old_examples o'
            ELSE 'SELECT n.*, 1 AS sign FROM new_examples n UNION ALL SELECT o.*, -1 FROM old_examples o'
        END);
    RETURN NULL;
END $$;

-- Tags written: the example moves from its old tag set ('{}' without a row) to its new one.
CREATE FUNCTION example_summary_tags_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(1952540531);
    EXECUTE format($sql$
        INSERT INTO example_summary_changes
        SELECT (e.created_at AT TIME ZONE 'UTC')::date, e.intent, e.platform, e.model_id, e.success, e.archived,
               example_quality_bin(e.quality_score), m.tags, sum(m.sign),
               coalesce(sum(m.sign * e.quality_score::numeric), 0)
        FROM (%s) m JOIN examples e ON e.id = m.example_id
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
        HAVING sum(m.sign) <> 0
        $sql$, CASE TG_OP
            WHEN 'INSERT' THEN 'SELECT example_id, tags, 1 AS sign FROM new_tags
                                UNION ALL SELECT example_id, ''{}'', -1 FROM new_tags'
            WHEN 'DELETE' THEN 'SELECT example_id, tags, -1 AS sign FROM old_tags
                                UNION ALL SELECT example_id, ''{}'', 1 FROM old_tags'
            ELSE 'SELECT example_id, tags, 1 AS sign FROM new_tags UNION ALL SELECT example_id, tags, -1 FROM old_tags'
        END);
    RETURN NULL;
END $$;

-- Everything again from the tables: after a TRUNCATE (the tests empty the tables so), and to fill the summary here.
CREATE FUNCTION example_summary_rebuild() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM example_summary_changes;
    DELETE FROM example_summary;
    DELETE FROM example_summary_months;
    PERFORM example_summary_fill();
    RETURN NULL;
END $$;

CREATE FUNCTION example_summary_fill() RETURNS void LANGUAGE sql AS $$
    INSERT INTO example_summary
    SELECT (e.created_at AT TIME ZONE 'UTC')::date, e.intent, e.platform, e.model_id, e.success, e.archived,
           example_quality_bin(e.quality_score), coalesce(t.tags, '{}'), count(*), coalesce(sum(e.quality_score::numeric), 0)
    FROM examples e LEFT JOIN example_tags t ON t.example_id = e.id
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
    INSERT INTO example_summary_months
    SELECT date_trunc('month', day)::date, intent, platform, model_id, success, archived, quality_bin, tags, sum(n),
           sum(score_sum)
    FROM example_summary GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
$$;

-- Transition tables need one trigger per event.
CREATE TRIGGER example_summary_inserted AFTER INSERT ON examples REFERENCING NEW TABLE AS new_examples
    FOR EACH STATEMENT EXECUTE FUNCTION example_summary_examples_changed();
CREATE TRIGGER example_summary_updated AFTER UPDATE ON examples
    REFERENCING OLD TABLE AS old_examples NEW TABLE AS new_examples
    FOR EACH STATEMENT EXECUTE FUNCTION example_summary_examples_changed();
CREATE TRIGGER example_summary_deleted AFTER DELETE ON examples REFERENCING OLD TABLE AS old_examples
    FOR EACH STATEMENT EXECUTE FUNCTION example_summary_examples_changed();
CREATE TRIGGER example_summary_tags_inserted AFTER INSERT ON example_tags REFERENCING NEW TABLE AS new_tags
    FOR EACH STATEMENT EXECUTE FUNCTION example_summary_tags_changed();
CREATE TRIGGER example_summary_tags_updated AFTER UPDATE ON example_tags
    REFERENCING OLD TABLE AS old_tags NEW TABLE AS new_tags
    FOR EACH STATEMENT EXECUTE FUNCTION example_summary_tags_changed();
CREATE TRIGGER example_summary_tags_deleted AFTER DELETE ON example_tags REFERENCING OLD TABLE AS old_tags
    FOR EACH STATEMENT EXECUTE FUNCTION example_summary_tags_changed();
CREATE TRIGGER example_summary_truncated AFTER TRUNCATE ON examples
    FOR EACH STATEMENT EXECUTE FUNCTION example_summary_rebuild();
CREATE TRIGGER example_summary_tags_truncated AFTER TRUNCATE ON example_tags
    FOR EACH STATEMENT EXECUTE FUNCTION example_summary_rebuild();

-- Fold changes into the summary once there are at least `due` rows of them, at most `most` rows at a time (a reader
-- folds, so it pays for a bounded fold; a burst of changes is folded over the next reads): one folder at a time (the
-- others return at once, and readers add the changes up themselves); emptied rows go. Returns the change rows folded.
CREATE FUNCTION example_summary_fold(due bigint, most bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
BEGIN
    IF (SELECT count(*) FROM (SELECT 1 FROM example_summary_changes LIMIT due) c) < due
       OR NOT pg_try_advisory_xact_lock(hashtext('tuneyard.example_summary_fold')) THEN
        RETURN 0;
    END IF;
    WITH moved AS (
        DELETE FROM example_summary_changes
        WHERE ctid = ANY(ARRAY(SELECT ctid FROM example_summary_changes LIMIT most))
        RETURNING *
    ), by_day AS (
        SELECT day, intent, platform, model_id, success, archived, quality_bin, tags, sum(n) AS n,
               sum(score_sum) AS score_sum, count(*) AS rows
        FROM moved GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
    ), by_month AS (
        SELECT date_trunc('month', day)::date AS day, intent, platform, model_id, success, archived, quality_bin, tags,
               sum(n) AS n, sum(score_sum) AS score_sum
        FROM by_day GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
    ), days AS (
        INSERT INTO example_summary AS s
        SELECT day, intent, platform, model_id, success, archived, quality_bin, tags, n, score_sum FROM by_day
        ORDER BY 1, 2, 3, 4, 5, 6, 7, 8
        ON CONFLICT (day, intent, platform, model_id, success, archived, quality_bin, tags)
        DO UPDATE SET n = s.n + EXCLUDED.n, score_sum = s.score_sum + EXCLUDED.score_sum
    ), months AS (
        INSERT INTO example_summary_months AS s
        SELECT * FROM by_month ORDER BY 1, 2, 3, 4, 5, 6, 7, 8
        ON CONFLICT (day, intent, platform, model_id, success, archived, quality_bin, tags)
        DO UPDATE SET n = s.n + EXCLUDED.n, score_sum = s.score_sum + EXCLUDED.score_sum
    )
    SELECT coalesce(sum(rows), 0) INTO folded FROM by_day;
    DELETE FROM example_summary WHERE n = 0;
    DELETE FROM example_summary_months WHERE n = 0;
    RETURN folded;
END $$;

-- Fill it. The triggers exist first: creating them waits for writes in progress and holds new ones back until this
-- migration commits, so no write falls between the rows read here and the triggers (reads go on meanwhile).
LOCK TABLE examples, example_tags IN SHARE ROW EXCLUSIVE MODE;
SELECT example_summary_fill();
