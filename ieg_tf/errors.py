"""The one exception type for mistakes a user can fix.

`main` catches `UserError`, prints its message as one line and exits with
status 2. Everything else is a bug and may show a traceback.
"""


class UserError(Exception):
  """Bad flags, missing or malformed data, or missing hardware.

  The message must say what is wrong and how to fix it, in one line.
  """
