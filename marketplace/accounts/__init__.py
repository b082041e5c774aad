"""Identity and access: accounts, organizations and roles, sessions, company sign-in
(OpenID Connect), OAuth2 machine clients, and the checks every view makes."""
