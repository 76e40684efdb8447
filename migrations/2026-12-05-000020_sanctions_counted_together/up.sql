-- A batch of sanctions is one INSERT, and each row it inserted set off two
-- row triggers, each running a statement of its own: its member's count
-- (sanction_counts) and its cache change (cache_changes). One trigger per
-- statement now does both for the whole batch from its transition table.
-- Rows that are updated or deleted keep their row triggers: they come one at
-- a time.
CREATE FUNCTION memberd_sanctions_inserted() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    -- In member order, as the batch locked its members.
    INSERT INTO sanction_counts (member_id, sanctions)
        SELECT member_id, count(*) FROM inserted GROUP BY member_id ORDER BY member_id
        ON CONFLICT (member_id) DO UPDATE SET sanctions = sanction_counts.sanctions + EXCLUDED.sanctions;
    PERFORM memberd_changed('m' || member_id) FROM (SELECT DISTINCT member_id FROM inserted) AS members;
    RETURN NULL;
END $$;

DROP TRIGGER sanctions_counted ON sanctions;
DROP TRIGGER sanctions_changed ON sanctions;
CREATE TRIGGER sanctions_inserted AFTER INSERT ON sanctions REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION memberd_sanctions_inserted();
CREATE TRIGGER sanctions_counted AFTER DELETE ON sanctions
    FOR EACH ROW EXECUTE FUNCTION memberd_count_sanctions();
CREATE TRIGGER sanctions_changed AFTER UPDATE OR DELETE ON sanctions
    FOR EACH ROW EXECUTE FUNCTION memberd_member_row_changed();

-- No query names this index's condition (ended_kind IS DISTINCT FROM
-- 'reverted'), so the planner could never use it; every sanction paid for
-- its entry. The queries about running sanctions read sanctions_open_idx and
-- sanctions_unrecorded_idx.
DROP INDEX sanctions_running_idx;
