-- Grants name their terms with a namespace: subjects are 'user:NAME' or
-- 'group:everyone' (the public group), roles 'role:NAME'. With bare names a
-- user called 'owner' held the owner role everywhere (Casbin's role manager
-- treats a subject equal to a role's name as holding it); see authz/grants.py.

UPDATE casbin_rule
   SET v0 = CASE WHEN v0 = '*' THEN 'group:everyone' ELSE 'user:' || v0 END,
       v1 = 'role:' || v1
 WHERE ptype = 'g'
   AND v0 NOT LIKE 'user:%' AND v0 <> 'group:everyone'
   AND v1 NOT LIKE 'role:%';
