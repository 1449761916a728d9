-- The number of accounts, kept by triggers: getUsers reports it (and the page marks check
-- it) without counting every row at each request. One statement-level trigger per INSERT
-- or DELETE statement, so that a bulk insert of many rows updates the count once.
CREATE TABLE account_count (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    n  BIGINT   NOT NULL
);
INSERT INTO account_count (id, n) SELECT 1, COUNT(*) FROM accounts;

CREATE FUNCTION account_count_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE account_count SET n = n + (SELECT COUNT(*) FROM inserted) WHERE id = 1;
    RETURN NULL;
END
$$;

CREATE FUNCTION account_count_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE account_count SET n = n - (SELECT COUNT(*) FROM removed) WHERE id = 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER account_count_insert AFTER INSERT ON accounts
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION account_count_add();

CREATE TRIGGER account_count_delete AFTER DELETE ON accounts
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION account_count_remove();
