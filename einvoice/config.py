"""Settings: built once by a shell (CLI, scheduler, HTTP app) and passed down.

Sources, strongest first: ``EINVOICE_*`` environment variables, the TOML settings file
(``settings_files``: ``--config``, ``EINVOICE_CONFIG``, the user's, the system's), the defaults
(``--data-dir`` beats them all for the data directory). With nothing set, everything lives under
``./einvoice-data/`` and the drop folder is ``./inbox/``, so a trial run is self-contained.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from einvoice import settings_files
from einvoice.errors import ConfigError

MB = 1024 * 1024
DEFAULT_TIMEZONE = "Europe/Berlin"
# the municipal approval steps an office may require, by their names in `approval_steps`
ApprovalStep = Literal["sachlich", "rechnerisch", "anordnung"]


class Mailbox(BaseModel):
    """One IMAP mailbox to poll."""

    model_config = ConfigDict(extra="forbid")

    name: str
    host: str
    port: int = 993
    security: Literal["tls", "starttls", "none"] = "tls"
    user: str
    password: str | None = Field(None, description="or password_file / password_env")
    password_file: Path | None = None
    password_env: str | None = None
    folder: str = "INBOX"
    processed_folder: str | None = "Processed"
    failed_folder: str | None = "Failed"
    after_commit: Literal["move", "flag"] = "move"
    batch_size: int = 50


class DropFolder(BaseModel):
    """A folder whose files are submissions, e.g. an SFTP upload area or the output folder of a
    Peppol access point; ``channel`` names it on the submissions."""

    model_config = ConfigDict(extra="forbid")

    path: Path
    channel: str = "folder"


class Smtp(BaseModel):
    """Where notices to suppliers are sent."""

    model_config = ConfigDict(extra="forbid")

    host: str = "localhost"
    port: int = 25
    security: Literal["tls", "starttls", "none"] = "none"
    user: str | None = None
    password: str | None = None
    sender: str = "rechnungseingang@localhost"
    send_receipts: bool = True


class DocumentRule(BaseModel):
    """One row of ``document_policy``: the documents it recognises (BT-24 exactly, or containing
    a text, or a document kind), their profile, and whether their scenario validates them or
    they are rejected with ``reason`` ({profile}, {version}: the XRechnung version found)."""

    model_config = ConfigDict(extra="forbid")

    profile: str
    specifications: list[str] = []
    contains: list[str] = []
    kinds: list[str] = []
    action: Literal["validate", "reject"] = "validate"
    reason: str | None = None


_XR3 = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
_NOT_AN_INVOICE = (
    "Das Profil {profile} ist keine Rechnung im Sinne des § 14 UStG (nur Buchungshilfe); bitte "
    "als XRechnung oder Factur-X/ZUGFeRD ab Profil BASIC senden. / Profile {profile} is not an "
    "invoice under German VAT law (§14 UStG); please send XRechnung or Factur-X/ZUGFeRD BASIC "
    "or higher.")
# Documents that are not XRechnung 3: what becomes of them, and why (README, validation)
DEFAULT_DOCUMENT_POLICY: dict[str, dict[str, Any]] = {
    "xrechnung": {"profile": "XRECHNUNG", "specifications": [
        _XR3, f"{_XR3}#conformant#urn:xeinkauf.de:kosit:extension:xrechnung_3.0",
        f"{_XR3}#compliant#urn:xeinkauf.de:kosit:xrechnung:cvd_0.9"]},
    "xrechnung-expired": {
        "profile": "XRECHNUNG", "contains": ["xrechnung_1.", "xrechnung_2."], "action": "reject",
        "reason": "XRechnung {version} ist nicht mehr gültig; bitte als XRechnung 3.0 senden. / "
                  "XRechnung {version} has expired; please send XRechnung 3.0."},
    "en16931": {"profile": "EN16931", "specifications": ["urn:cen.eu:en16931:2017"]},
    "peppol": {"profile": "PEPPOL", "specifications": [
        "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"]},
    **{name: {"profile": name.upper(), "specifications": [
        f"urn:cen.eu:en16931:2017#{how}#urn:{urn}:{name}"
        for urn in ("factur-x.eu:1p0", "zugferd.de:2p0")]}
       for name, how in (("basic", "compliant"), ("extended", "conformant"))},
    **{name: {"profile": profile, "action": "reject", "reason": _NOT_AN_INVOICE,
              "specifications": [f"urn:factur-x.eu:1p0:{name}", f"urn:zugferd.de:2p0:{name}"]}
       for name, profile in (("minimum", "MINIMUM"), ("basicwl", "BASIC WL"))},
    "zugferd1": {
        "profile": "ZUGFERD1", "kinds": ["zugferd1"], "action": "reject",
        "contains": ["urn:ferd:CrossIndustryDocument:invoice:1p0"],
        "reason": "ZUGFeRD 1.0 entspricht nicht EN 16931; bitte als XRechnung oder "
                  "Factur-X/ZUGFeRD 2.x senden. / ZUGFeRD 1.0 does not conform to EN 16931; "
                  "please send XRechnung or Factur-X/ZUGFeRD 2.x."},
}


class Settings(BaseSettings):
    """Everything an operator can set. Paths are relative to the working directory."""

    model_config = SettingsConfigDict(env_prefix="EINVOICE_", extra="forbid")

    data_dir: Path = Field(Path("einvoice-data"), description="database, archive and exports")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite in data_dir")
    archive_dir: Path | None = Field(None, description="originals, content-addressed")
    export_dir: Path | None = Field(None, description="export batches")
    inbox_dir: Path = Field(Path("inbox"), description="drop folder scanned by `einvoice scan`")
    drop_folders: list[DropFolder] = Field(
        default_factory=list, description="further drop folders, each with its channel name")
    settle_seconds: float = Field(2.0, description="a file younger than this (mtime) may still "
                                  "be being written and waits for the next scan")
    max_submission_bytes: int = Field(100 * MB, description="larger submissions are refused")
    max_xml_bytes: int = Field(64 * MB, description="larger XML documents are quarantined")
    max_zip_members: int = Field(500, description="members per submission (every entry of "
                                 "every nested ZIP and every mail part together); more: the "
                                 "submission is refused whole as a bomb")
    max_zip_total_bytes: int = Field(256 * MB, description="unpacked bytes per submission (all "
                                     "ZIP members and mail parts together); more: refused whole")
    max_zip_depth: int = Field(2, description="ZIPs inside ZIPs; deeper: refused whole")
    max_archive_bytes_per_sender_day: int = Field(
        1024 * MB, description="originals archived per sender (token's supplier, mail sender "
        "or drop-folder channel) and local day; beyond: refused (README); 0: no quota")
    junk_retention_days: int = Field(90, ge=1, description="days a submission holding no "
                                     "invoice is kept before the service removes it (audited)")
    leitweg_routes: dict[str, str] = Field(
        default_factory=dict,
        description="accepted Leitweg-IDs or prefixes -> receiving office; empty: no check")
    scenarios_file: Path | None = Field(None, description="validation scenarios (TOML); "
                                        "default: those of the rule release in force")
    rule_release: str | None = Field(None, description="pin one rule release (an id of `einvoice "
                                     "rules`); default: the one in force on the receipt day")
    rule_engine: Literal["native", "official", "both"] = Field("native", description="CEN UBL "
        "rules: native (compiled to Python), official (Saxon) or both (a difference is an error)")
    document_policy: dict[str, DocumentRule] = Field(
        default_factory=lambda: {k: DocumentRule(**v) for k, v in DEFAULT_DOCUMENT_POLICY.items()},
        description="documents by profile (BT-24): validate by their scenario or reject with a "
        "reason; a row of the settings file changes the default row of its name key by key")
    four_eyes_threshold: Decimal = Field(Decimal("5000"), description="gross amount in EUR "
                                         "above which two different people must approve")
    eur_rates: dict[str, Decimal] = Field(
        default_factory=dict, description="currency -> EUR per unit (USD = \"0.92\"); an invoice "
        "in a currency without a rate always needs two approvers")
    approval_steps: dict[str, list[ApprovalStep]] = Field(
        default_factory=dict, description="office -> the municipal steps its invoices pass "
        "instead of the plain approval, in order")
    identity: Literal["os", "database"] = Field(
        "os", description="who acts: the OS account running the command, or (PostgreSQL) the "
        "database login")
    payment_days: int = Field(30, description="payment target when an invoice names no due date")
    office: str | None = Field(None, description="the office whose inbox `einvoice inbox` shows")
    mailboxes: list[Mailbox] = Field(default_factory=list, description="IMAP mailboxes to poll")
    smtp: Smtp | None = Field(None, description="notices to suppliers; none: not sent")
    finance_office_email: str | None = Field(
        None, description="gets the notices about an invoice whose IBAN the supplier master "
        "does not vouch for (never the addresses the invoice names)")
    max_upload_bytes: int = Field(50 * MB, description="larger uploads get HTTP 413")
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    datev_adviser: int = Field(1001, description="DATEV Beraternummer")
    datev_client: int = Field(1, description="DATEV Mandantennummer")
    datev_chart: Literal["03", "04"] = Field("03", description="SKR03 or SKR04")
    datev_account_length: int = Field(4, description="length of G/L accounts (4-8)")
    datev_fiscal_year_start: str = Field("0101", description="MMDD")
    datev_default_account: str = Field("4900", description="expense account when none assigned")
    datev_default_creditor: str = Field("70000", description="creditor account when the "
                                        "supplier has none")
    datev_tax_keys: dict[str, str] = Field(
        default_factory=lambda: {"19": "9", "7": "8"},
        description="VAT rate -> DATEV BU-Schlüssel (input tax keys; check with accounting)")
    datev_per_line: bool = Field(False, description="one booking per line item instead of per "
                                 "VAT rate")
    timezone: str = Field(DEFAULT_TIMEZONE, description="IANA time zone of the times people "
                          "read, report days and the export schedule; stored times stay UTC")
    export_time: str = Field("0 2 * * *", description="nightly export, cron, in `timezone`")
    poll_minutes: int = Field(5, description="mailbox and drop-folder interval")
    serve_http: bool = Field(False, description="`einvoice run` also serves the upload app")
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1,
                         description="processes reading documents during large ingests")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the file (passed in as init values), so an operator can override
        # one value of a shared settings file without editing it.
        return (env_settings, init_settings)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {name!r} (an IANA name such as "
                             f"{DEFAULT_TIMEZONE!r})") from exc
        return name

    @field_validator("document_policy", mode="before")
    @classmethod
    def _policy_over_defaults(cls, table: Any) -> Any:
        if not isinstance(table, dict):
            return table
        return DEFAULT_DOCUMENT_POLICY | {
            name: DEFAULT_DOCUMENT_POLICY.get(name, {}) | row if isinstance(row, dict) else row
            for name, row in table.items()}

    @field_validator("eur_rates")
    @classmethod
    def _rates(cls, rates: dict[str, Decimal]) -> dict[str, Decimal]:
        for code, rate in rates.items():
            if len(code) != 3 or not code.isalpha() or not code.isupper() or code == "EUR":
                raise ValueError(f"eur_rates: {code!r} is not a currency code other than EUR")
            if not rate > 0:
                raise ValueError(f"eur_rates: the rate of {code} must be above 0, not {rate}")
        return rates

    @field_validator("approval_steps")
    @classmethod
    def _steps(cls, offices: dict[str, list[str]]) -> dict[str, list[str]]:
        # without both, one person could approve any amount alone
        for office, steps in offices.items():
            if len(set(steps)) != len(steps) or "sachlich" not in steps or steps[-1:] != [
                    "anordnung"]:
                raise ValueError(f"approval_steps of {office!r}: each step once, sachlich among "
                                 "them and anordnung last")
        return offices

    @model_validator(mode="after")
    def _database_identity(self) -> Settings:
        if self.identity == "database" and not self.db_url.startswith("postgresql"):
            raise ValueError('identity = "database" needs PostgreSQL (database_url): SQLite '
                             "has no logins")
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The local time zone, for showing stored UTC times and for local calendar days."""
        return ZoneInfo(self.timezone)

    @property
    def folders(self) -> list[DropFolder]:
        """The default inbox first, then the configured drop folders."""
        return [DropFolder(path=self.inbox_dir), *self.drop_folders]

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'einvoice.db'}"

    @property
    def archive_path(self) -> Path:
        return self.archive_dir or self.data_dir / "archive"

    @property
    def export_path(self) -> Path:
        return self.export_dir or self.data_dir / "exports"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from the settings file (``settings_files.find``), the environment and defaults;
    ``--data-dir`` of the running command beats them all."""
    values = settings_files.read(settings_files.find(config_file))
    values.update(overrides)
    if "user" in values:  # earlier versions took the acting person from here
        raise ConfigError("the setting `user` is gone: the acting person is the account that "
                          "runs the command (see `identity`)")
    try:
        settings = Settings(**values)
    except ValueError as exc:
        raise ConfigError(f"invalid settings: {exc}") from exc
    chosen = settings_files.DATA_DIR.get()
    return settings if chosen is None else settings.model_copy(update={"data_dir": chosen})
