"""``einvoice rules``: the installed rule releases, which one is in force, and adding a new one
(the official archive as KoSIT publishes it)."""

from __future__ import annotations

import datetime as dt
import shutil
import textwrap
from pathlib import Path
from typing import Annotated, Any

import typer

from einvoice.cli.common import (
    ConfigOpt,
    JsonOpt,
    app,
    as_staff,
    console,
    echo,
    emit_json,
    fail,
)
from einvoice.errors import EinvoiceError

group = typer.Typer(help="Rule releases: list, add (official KoSIT archive), check.",
                    invoke_without_command=True)
app.add_typer(group, name="rules")


def _describe(settings: Any) -> list[dict[str, Any]]:
    from einvoice.validation.releases import added_releases, installed
    from einvoice.validation.rulebook import plan, rulebook_for

    book = rulebook_for(settings)
    today = book.release_for(dt.datetime.now(settings.zone).date())  # the city's day
    out = []
    for release in installed(added_releases(settings)):
        validator = book.validator(release)
        official = {}
        for artefact in release.official:
            spec = plan(artefact)
            official[artefact.pack] = {
                "artefact": artefact.path.relative_to(release.folder).as_posix(),
                "engine": "official" if spec.wholly_official else (
                    "native + official" if spec.lagging else "native"),
                "official_rules": sorted(spec.lagging)}
        out.append({
            "id": release.id, "title": release.title, "version": release.official_version,
            "valid_from": release.valid_from.isoformat(), "source": release.source,
            "peppol_bis": release.peppol_bis,
            "in_force": release.id == today.id, "builtin": release.builtin,
            "scenarios": [{"name": s.name, "schema": sorted(set(s.schema.values())),
                           "packs": list(s.packs),
                           "levels": {rule: lvl.value for rule, lvl in s.levels.items()}}
                          for s in validator.scenarios],
            "packs": official,
            "replaced": {pack.name: pack.path.relative_to(release.folder).as_posix()
                         for pack in release.packs}})
    return out


def _expectations(n: int, kind: str) -> str:
    from einvoice.views.formatting import count

    return count(n, f"{kind} expectation", f"{kind} expectations")


def _line(text: str) -> None:
    """One entry of the listing, wrapped at words to the terminal (80 columns when it is not
    one) with its continuation indented below it; a word longer than a line (a commit id) is
    kept whole, never cut."""
    indent = " " * (len(text) - len(text.lstrip()) + 4)
    width = shutil.get_terminal_size((80, 24)).columns
    for line in textwrap.wrap(text, width, subsequent_indent=indent, break_long_words=False,
                              break_on_hyphens=False, drop_whitespace=True) or [""]:
        echo(line)


@group.callback()
def rules(ctx: typer.Context, as_json: JsonOpt = False, config: ConfigOpt = None) -> None:
    """List the rule releases, their scenarios and packs; the one in force is marked *."""
    if ctx.invoked_subcommand is not None:
        return
    from einvoice.config import load_settings
    from einvoice.views.formatting import count, day

    try:
        data = _describe(load_settings(config))
    except EinvoiceError as exc:
        fail(str(exc))
    if as_json:
        emit_json(data)
        return
    for release in data:
        _line(f"{'*' if release['in_force'] else ' '} {release['id']}  "
                   f"version {release['version']}, valid from "
                   f"{day(dt.date.fromisoformat(release['valid_from']))}"
                   f"{'' if release['builtin'] else ', added'} - {release['title']}")
        _line(f"    source: {release['source']}")
        if release["peppol_bis"]:
            _line(f"    Peppol BIS rules: {release['peppol_bis']}")
        for scenario in release["scenarios"]:
            levels = len(scenario["levels"])
            _line(f"    scenario {scenario['name']}: "
                       f"{' + '.join(scenario['schema'] + scenario['packs'])}"
                       + (f" ({count(levels, 'level', 'levels')} overridden)" if levels
                          else ""))
        for pack, info in release["packs"].items():
            lagging = info["official_rules"]
            _line(f"    pack {pack}: {info['engine']}"
                       + (f" - official engine for {', '.join(lagging)}" if lagging else ""))
        for pack, artefact in release["replaced"].items():
            _line(f"    pack {pack}: replaced by the release's {artefact}")
    echo("* = in force today; `einvoice validate --release ID` pins one")


@group.command("add")
def add(source: Annotated[Path, typer.Argument(help="the official archive (ZIP or folder)",
                                              exists=True)],
        version: Annotated[str | None, typer.Option(help="release version, when the archive "
                                                    "does not say")] = None,
        valid_from: Annotated[str | None, typer.Option(help="applies to documents received "
                                                       "from this day (YYYY-MM-DD)")] = None,
        config: ConfigOpt = None) -> None:
    """Check an official rule release and make it selectable (admins)."""
    from einvoice.lifecycle import Role
    from einvoice.validation.install import add_release
    from einvoice.validation.releases import added_releases, installed
    from einvoice.validation.rulebook import forget
    from einvoice.views.formatting import day

    try:
        starts = dt.date.fromisoformat(valid_from) if valid_from else None
    except ValueError:
        fail(f"not a date: {valid_from!r} (YYYY-MM-DD)")
    with as_staff(config, Role.ADMIN, "adding a rule release") as ctx:
        target = added_releases(ctx.settings)
        done = add_release(source, target, installed(target),
                           dict(ctx.settings.leitweg_routes), version, starts)
        forget()
        console.print(f"added {done.release.id} (valid from {day(done.release.valid_from)}); "
                      f"{_expectations(done.cases, 'official test')} met", highlight=False)


@group.command("check")
def check(release: Annotated[str | None, typer.Argument(help="release id (default: all)")]
          = None, config: ConfigOpt = None) -> None:
    """Verify a release's artefacts against its manifest and that every pack compiles."""
    from einvoice.config import load_settings
    from einvoice.validation.install import check as check_release
    from einvoice.validation.releases import added_releases, installed

    try:
        settings = load_settings(config)
        for found in installed(added_releases(settings)):
            if release in (None, found.id):
                cases = check_release(found, dict(settings.leitweg_routes), found.folder)
                console.print(f"ok {found.id}: manifest matches, packs compile, "
                              f"{_expectations(cases, 'test')} met", highlight=False)
    except EinvoiceError as exc:
        fail(str(exc), 1)


@group.command("seal")
def seal(folder: Annotated[Path, typer.Argument(help="a release folder", exists=True,
                                               file_okay=False)]) -> None:
    """Rewrite a release folder's [sha256] table after its artefacts were edited on purpose."""
    from einvoice.validation.releases import MANIFEST, seal_manifest

    seal_manifest(folder)
    console.print(f"sealed {folder / MANIFEST}", highlight=False)
