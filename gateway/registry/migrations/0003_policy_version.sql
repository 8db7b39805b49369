-- A counter that moves with every change to the access policy, so that a
-- process can tell in one cheap query whether the policy it holds is stale
-- (NOTIFY reaches other processes within milliseconds, but not instantly).

CREATE TABLE policy_version (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version   bigint  NOT NULL
);

INSERT INTO policy_version (singleton, version) VALUES (true, 0);

CREATE FUNCTION bump_policy_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE policy_version SET version = version + 1;
    RETURN NULL;
END;
$$;

CREATE TRIGGER casbin_rule_policy_version
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON casbin_rule
    FOR EACH STATEMENT EXECUTE FUNCTION bump_policy_version();
