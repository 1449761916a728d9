-- The number of accounts, kept by triggers: getUsers reports it (and the page marks check
-- it) without counting every row at each request.
CREATE TABLE account_count (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO account_count (id, n) SELECT 1, COUNT(*) FROM accounts;

CREATE TRIGGER account_count_insert AFTER INSERT ON accounts
BEGIN
    UPDATE account_count SET n = n + 1 WHERE id = 1;
END;

CREATE TRIGGER account_count_delete AFTER DELETE ON accounts
BEGIN
    UPDATE account_count SET n = n - 1 WHERE id = 1;
END;
