"""Standard formats: a factory as profile JSON or Asset Administration Shell (JSON, XML),
exported and imported on its page, in the API and on the command line."""
