"""The scope vocabulary moved to `loyalty.core.scopes` (every app's API declares scopes, and core
may not import integrations). Re-exported here so imports of the old path keep working."""

from loyalty.core.scopes import *  # noqa: F403
from loyalty.core.scopes import required_scope_for  # noqa: F401
