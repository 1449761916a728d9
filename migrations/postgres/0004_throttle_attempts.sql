-- Attempts are counted before their credential is checked; `denied` counts the attempts
-- refused while the key is locked (0 after an attempt that was let through).
ALTER TABLE throttle ADD COLUMN denied BIGINT NOT NULL DEFAULT 0;
