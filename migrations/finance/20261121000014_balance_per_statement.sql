-- The balance wall ran once per journal line, each run summing the whole entry: a
-- four-line sale checked its entry five times, the ledger's dearest statement. Lines
-- are written per entry in one statement, so checking each entry a statement adds
-- lines to, once, at the statement's end, is the same wall: lines added later to a
-- balanced entry must balance among themselves, and an entry left without lines is
-- still caught at commit by `entry_balances`.
DROP TRIGGER entry_lines_balance ON journal_lines;
DROP FUNCTION check_entry_lines_balance();
CREATE FUNCTION check_added_lines_balance() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM assert_entry_balances(entry_id) FROM (SELECT DISTINCT entry_id FROM added) AS entries;
    RETURN NULL;
END
$$;
CREATE TRIGGER entry_lines_balance AFTER INSERT ON journal_lines
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION check_added_lines_balance();
