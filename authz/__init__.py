"""Authorization: decides who may do what on which model, enforced with Casbin."""
