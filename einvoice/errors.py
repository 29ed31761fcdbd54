"""One error tree for everything einvoice raises on purpose.

Callers catch ``EinvoiceError`` at the edges (CLI, scheduler, HTTP) and turn it into a clean
message; anything else is a bug and is allowed to surface.
"""


class EinvoiceError(Exception):
    """Base of all deliberate errors."""


class ConfigError(EinvoiceError):
    """Settings are missing or contradictory."""


class InputError(EinvoiceError):
    """Bytes from outside that cannot be taken as an invoice; the document is quarantined."""


class TooLarge(InputError):
    """Input exceeds a configured size limit."""


class QuotaExceeded(TooLarge):
    """A sender's archive quota for the day is used up: the submission is refused, not kept."""


class MalformedXML(InputError):
    """Not well-formed XML, or XML using forbidden features (DTD, entities)."""


class ForbiddenXML(MalformedXML):
    """XML with a DTD, entity declarations or external references: refused, never expanded."""


class UnsupportedDocument(InputError):
    """Well-formed, but not a document kind einvoice reads."""


class BrokenPDF(InputError):
    """A PDF that cannot be opened or whose attachments cannot be read."""


class BrokenArchive(InputError):
    """A ZIP that cannot be read or that unpacks to too much (zip bomb)."""


class OverBudget(InputError):
    """A submission that unpacks to more members, bytes or ZIP levels than one submission may
    (all its ZIPs and mail parts together): refused whole, nothing more unpacked."""


class ReadError(InputError):
    """A recognised invoice syntax whose content cannot be mapped (e.g. a malformed date)."""


class NotFound(EinvoiceError):
    """A requested record does not exist."""
