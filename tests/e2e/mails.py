"""Moved to tests/helpers.py; re-exported while older branches are merged."""

from tests.helpers import SMTP_AUTHOR as AUTHOR  # noqa: F401
from tests.helpers import SMTP_T0 as T0  # noqa: F401
from tests.helpers import diff as _diff  # noqa: F401
from tests.helpers import series, single  # noqa: F401
from tests.helpers import smtp_mail as mail  # noqa: F401
