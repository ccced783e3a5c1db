"""The command line's last line of defence: an error no command caught on purpose becomes one sentence that
says what was wrong with what was given, never a traceback. LOSSWATCH_DEBUG=1 lets the traceback through."""

from __future__ import annotations

DEBUG_ENV = "LOSSWATCH_DEBUG"


def describe(exc: BaseException) -> str:
    """One sentence about `exc` for the person who typed the command."""
    import httpx
    from pydantic_settings import SettingsError
    from sqlalchemy import exc as sa

    from losswatch.monitor.restclient import BadTarget

    if isinstance(exc, BadTarget):
        return str(exc)
    if isinstance(exc, SettingsError):
        return (
            f"a LOSSWATCH_ setting could not be read ({_first_line(exc)}); a list takes JSON, e.g. "
            """LOSSWATCH_ALLOWED_HOSTS='["gpu-box"]'"""
        )
    if isinstance(exc, ModuleNotFoundError):
        return f"a module this needs is not installed: {exc.name} (pip install it into losswatch's environment)"
    if isinstance(exc, sa.NoSuchModuleError):
        return (
            f"no database driver for that URL ({_first_line(exc)}): losswatch speaks sqlite:///path.db "
            "and postgresql+psycopg://user@host/db"
        )
    if isinstance(exc, sa.ArgumentError):
        return (
            f"not a database URL ({_first_line(exc)}); give e.g. sqlite:///lw.db or postgresql+psycopg://user@host/db"
        )
    if isinstance(exc, sa.DBAPIError):
        reason = _first_line(exc.orig) if exc.orig is not None else _first_line(exc)
        hint = "; is it a losswatch database? `losswatch db upgrade` makes one" if "no such table" in reason else ""
        return f"the database refused: {reason}{hint}"
    if isinstance(exc, sa.SQLAlchemyError):
        return f"database error: {_first_line(exc)}"
    if isinstance(exc, httpx.InvalidURL):
        return f"not a usable URL: {exc}"
    if isinstance(exc, UnicodeError):
        return (
            f"text that cannot be sent or stored as given ({getattr(exc, 'reason', exc)}): check the token, "
            "names and paths for characters that are not valid text"
        )
    if isinstance(exc, FileExistsError | NotADirectoryError) and exc.filename is not None:
        return f"{exc.filename}: a file stands where a folder is needed"
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename is not None else ""
        return f"{exc.strerror or exc}{where}"
    return f"unexpected error ({type(exc).__name__}: {_first_line(exc)}); {DEBUG_ENV}=1 shows where it came from"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
