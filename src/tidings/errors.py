"""Every exception tidings raises on purpose, in one tree. str() of each is the one line shown to the operator.

    TidingsError                  base: catch this to catch anything tidings raises deliberately
    ├── ConfigError               tidings.yml cannot be used; names the file, line and key (exit 2)
    ├── UsageError                a command line or command that cannot be carried out (exit 2)
    ├── LockBusy                  another tidings process holds the store (exit 2)
    ├── StoreVersionError         the store was written by a newer tidings (exit 2; nothing is changed)
    ├── StoreFormatError          a store tidings did not make and cannot use as it is (exit 2; nothing is changed)
    ├── CatalogError              a catalogue (RSSHub docs or API, OPML) cannot be read at all
    ├── FilterError               a bad include/exclude rule (also a ValueError, for pydantic)
    ├── RulesError                a bad per-site cleaning rule (also a ValueError, for pydantic)
    ├── FetchError                a request gave no usable response (`reason`, `retry`, `retry_after`)
    │   └── BlockedAddress        the URL is not allowed (scheme, or a non-public address)
    ├── DecodeError               a body that cannot be decoded (corrupt stream, unknown encoding)
    ├── ParseError                a body that is not a feed tidings can read
    ├── SearchIndexError          Pagefind is missing, will not start or fails while indexing (exit 2)
    └── WorkerError               a site-rendering worker process failed (also a RuntimeError; it
                                  lives in publish/site/pages.py, where its results type is)

A source's failure during a run is not an exception for the caller: fetch and ingest catch these and
report them in the source's outcome (model.OutcomeStatus.FAILED with a reason), so one broken feed never
stops the others. Each class is importable from the module that raises it as well as from here.
"""
from __future__ import annotations

__all__ = ["BlockedAddress", "CatalogError", "ConfigError", "DecodeError", "FetchError", "FilterError",
           "LockBusy", "ParseError", "RulesError", "SearchIndexError", "StoreFormatError", "StoreVersionError",
           "TidingsError", "UsageError"]


class TidingsError(Exception):
    """Base of every exception tidings raises on purpose."""


class ConfigError(TidingsError):
    """A configuration problem; str() is the one line shown to the operator (exit 2)."""


class UsageError(TidingsError):
    """A command that cannot be carried out as asked (exit 2)."""


class LockBusy(TidingsError):
    """Another tidings process is using the same store."""


class StoreVersionError(TidingsError):
    """The store was written by a newer tidings than this one (its schema version is unknown here)."""


class StoreFormatError(TidingsError):
    """The store is in a form tidings never writes (a SQLite database whose text is not UTF-8)."""


class CatalogError(TidingsError):
    """A catalogue could not be read at all (missing file, HTTP error, unreadable config)."""


class FilterError(TidingsError, ValueError):
    """A filter rule that cannot be used: unknown field, bad regular expression."""


class RulesError(TidingsError, ValueError):
    """A rule that cannot be used: unknown key, bad selector, bad regex. The message names the host."""


class FetchError(TidingsError):
    """A request gave no usable response; `reason` says why in one short line."""

    def __init__(self, reason: str, *, retry: bool = False, retry_after: float | None = None,
                 status: int = 0) -> None:
        super().__init__(reason)
        self.reason, self.retry, self.retry_after, self.status = reason, retry, retry_after, status


class BlockedAddress(FetchError):
    """The URL is not allowed: not http(s), or its host is (or resolves to) a non-public address."""


class DecodeError(TidingsError):
    """The body cannot be decoded (corrupt stream, unsupported Content-Encoding)."""


class ParseError(TidingsError):
    """The body is not a feed we can read; str() is the reason shown to the operator."""


class SearchIndexError(TidingsError):
    """The site's search index cannot be built: no Pagefind binary, or one that will not run or fails (exit 2)."""
