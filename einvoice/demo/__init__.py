"""``einvoice demo``: a newcomer's two minutes from intake to export, with the real functions,
on a throwaway installation (SQLite and folders in one demo directory).

The demo reads only its own settings file, never ``EINVOICE_*`` variables or the user's
settings: it must not touch a real installation whatever the shell it runs in says. Each step
is yielded as soon as it is done, with what happened and the commands that do the same.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from einvoice import settings_files
from einvoice.approval import identity, staff, workflow
from einvoice.config import Settings
from einvoice.context import MAY_CREATE, Context, open_context
from einvoice.errors import EinvoiceError
from einvoice.export.batch import export
from einvoice.intake.folder import scan
from einvoice.validation.findings import Level
from einvoice.validation.report import finding_json
from einvoice.views.formatting import money
from einvoice.views.queries import get_case

DEFAULT_DIR = Path("einvoice-demo")
MARKER = ".einvoice-demo"  # a folder holding it was made by the demo and may be replaced
SETTINGS_FILE = "einvoice.toml"
SAMPLES = Path(__file__).parent
VALID, INVALID = "rechnung-1-papierhaus.xml", "rechnung-2-gruenpflege.xml"


class DemoError(EinvoiceError):
    """The demo cannot run here (the folder belongs to something else)."""


@dataclass(frozen=True)
class Step:
    """One step of the tour: what happened, and the commands a user types to do the same."""

    title: str
    happened: list[str]
    commands: list[str]
    where: Path | None = None  # the folder the step wrote, if any


class _OwnFileOnly(Settings):
    """The demo's settings: its settings file only, no environment variable."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def shown(path: Path) -> str:
    """A path as the user would type it here: relative below the working directory."""
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path.absolute())


def prepare(folder: Path) -> Path:
    """A fresh demo folder with its settings file (returned). An earlier demo folder is
    replaced; any other folder that is not empty is refused, never touched."""
    if folder.exists():
        if not folder.is_dir() or (any(folder.iterdir()) and not (folder / MARKER).is_file()):
            raise DemoError(f"{folder} exists and was not made by `einvoice demo`: nothing "
                            "changed; choose another folder with --data-dir")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("made by `einvoice demo`; the next demo run replaces this "
                                 "folder\n", encoding="utf-8")
    root = folder.absolute()
    settings = folder / SETTINGS_FILE
    settings.write_text(
        "# the settings of the demo installation (`einvoice demo`); commands use them with -c\n"
        f"data_dir = {json.dumps(str(root))}\ninbox_dir = {json.dumps(str(root / 'inbox'))}\n"
        "settle_seconds = 0   # take files at once (a real drop folder waits 2 s)\n"
        "workers = 1\n", encoding="utf-8")
    return settings


def _setup(folder: Path) -> tuple[Context, str, str]:
    config = prepare(folder)
    settings = _OwnFileOnly(**settings_files.read(config))
    creating = MAY_CREATE.set(True)  # the demo makes its own database
    try:
        ctx = open_context(settings)
    finally:
        MAY_CREATE.reset(creating)
    for path in (settings.archive_path, settings.export_path, settings.inbox_dir):
        path.mkdir(parents=True, exist_ok=True)
    login = identity.current_login(ctx)
    staff.bootstrap(ctx, login, identity.full_name(login))
    return ctx, login, f"-c {shown(config)}"


def _describe(ctx: Context, invoice_id: int) -> tuple[str, list[dict[str, Any]]]:
    """One invoice as stored, in a line, and its findings of level error."""
    case = get_case(ctx, invoice_id)
    inv = case.invoice
    return (f"invoice {invoice_id}: {inv.number} from {inv.seller_name}, "
            f"{money(inv.gross_total, inv.currency)} → status {inv.status}"), [
        finding_json(f) for f in case.findings if f.level is Level.ERROR]


def tour(folder: Path = DEFAULT_DIR) -> Generator[Step, None, None]:
    """Run the demo in ``folder``, one step at a time."""
    ctx, login, cfg = _setup(folder)
    try:
        yield Step("A fresh installation", [
            f"data directory {shown(folder)}: database einvoice.db (SQLite), archive/, "
            f"exports/, drop folder inbox/, settings {SETTINGS_FILE}",
            f"{login} (the account running this) is its first admin and may approve"],
            [f"einvoice init {cfg}"])
        yield from _flow(ctx, login, cfg)
    finally:
        ctx.close()


def _flow(ctx: Context, login: str, cfg: str) -> Iterator[Step]:
    inbox = ctx.settings.inbox_dir
    for name in (VALID, INVALID):
        shutil.copyfile(SAMPLES / name, inbox / name)
    results = {r.path.name: r for f in ctx.settings.folders for r in scan(ctx, f, 1)}
    ids = {name: res.result.outcomes[0].invoice_id for name, res in results.items()
           if res.result and res.result.outcomes}
    if set(ids) != {VALID, INVALID}:
        raise DemoError("the sample invoices were not taken in: "
                        + "; ".join(r.problem for r in results.values()))
    yield Step("Intake", [
        f"two sample invoices (XRechnung 3.0, UBL) put into {shown(inbox)}/ and taken in: each "
        "original kept unchanged in archive/, read, validated and stored; the files moved to "
        f"{shown(inbox / 'processed')}/"],
        [f"cp {shown(SAMPLES)}/*.xml {shown(inbox)}/", f"einvoice scan {cfg}",
         f"einvoice list {cfg}"])
    good, bad = ids[VALID], ids[INVALID]
    good_text, _ = _describe(ctx, good)
    bad_text, errors = _describe(ctx, bad)
    yield Step("Validation (like the KoSIT validator)", [
        f"{good_text}: valid, awaiting approval",
        f"{bad_text}: rejected by "
        + "; ".join(f"{e['rule_id']} ({e['term']}): "
                    + e["message"].removeprefix(f"[{e['rule_id']}] ") for e in errors),
        "an invalid invoice cannot be approved: it goes back to the supplier (a mailed one gets "
        "a notice naming the rule); `einvoice close` ends the case"],
        [f"einvoice show {bad} {cfg}",
         f"einvoice validate {shown(inbox / 'processed' / INVALID)}   # no database needed"])
    change = workflow.approve(ctx, good, login)
    threshold = money(ctx.settings.four_eyes_threshold, "EUR")
    yield Step("Approval", [
        f"{change.message} by {login} ({change.before} → {change.after}); below the four-eyes "
        f"threshold of {threshold} one approver is enough, above it a second person must "
        "approve too", "every action is in the hash-chained audit trail"],
        [f"einvoice inbox {cfg}", f"einvoice approve {good} {cfg}",
         f"einvoice history {good} {cfg}"])
    result = export(ctx, login)
    if result.folder is None:
        raise DemoError("the export wrote no batch: "
                        + "; ".join(r.reason for r in result.refused))
    yield Step("Export to accounting", [
        f"batch {result.batch_id}: {result.invoice_count} approved invoice(s), "
        f"{money(result.gross_total, 'EUR')} → {shown(result.folder)}/",
        *(f"  {name}" for name in result.files)],
        [f"einvoice export --dry-run {cfg}", f"einvoice export {cfg}"], result.folder)


def environment_note() -> str | None:
    """A warning when ``EINVOICE_*`` variables are set: the demo ignores them, but the printed
    commands would not."""
    names = sorted(k for k in os.environ if k.startswith("EINVOICE_"))
    if not names:
        return None
    return (f"{', '.join(names)} set in this shell: the demo ignores them, the commands shown "
            "would not (unset them to try the commands on the demo)")
