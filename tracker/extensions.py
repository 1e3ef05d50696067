"""Flask extensions, created unbound here and bound in create_app()."""
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData

#: stable constraint names so Alembic migrations behave the same on SQLite and PostgreSQL
naming = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

db = SQLAlchemy(metadata=naming)
migrate = Migrate(render_as_batch=True)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = _l("请先登录。")
#: the message is flashed into the session, which stores text, not a lazy translation
login_manager.localize_callback = str
login_manager.login_message_category = "warning"
csrf = CSRFProtect()
