"""The commands of one case: scan and prescan evidence, then read the verdict, problems, hits, charges, report and exports."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from fieldlab.cli.common import (
    CaseArgument,
    HomeOption,
    ProfileOption,
    check_profile,
    console,
    errors,
    errors_hint,
    fail,
    open_case,
    password_lines,
    refuse_output,
    shown,
)
from fieldlab.problems import ProblemKind

case_app = typer.Typer()


@case_app.command()
def scan(
    source: Annotated[Path, typer.Argument(help="What to scan, opened read-only: a folder or mounted device, a device (/dev/sdb), a disk image (raw, split, E01, VMDK, VHD/VHDX, QCOW2, VirtualBox VDI, Apple .dmg), a phone extraction (iOS or Android backup, UFDR) or an archive.")],
    case: Annotated[Path, typer.Option("--case", help="Case folder (created if new).")],
    exhibit: Annotated[Optional[str], typer.Option(help="Exhibit reference (default: the source folder's name).")] = None,
    hashset: Annotated[Optional[list[str]], typer.Option(help="Hash set to match (repeatable; default: all).")] = None,
    sha256: Annotated[bool, typer.Option(help="Also compute SHA-256 (done anyway when a hash set used holds SHA-256 digests).")] = False,
    workers: Annotated[Optional[int], typer.Option(help="Reader processes on this machine (default: one per core).")] = None,
    cluster: Annotated[
        Optional[str], typer.Option(help="Run the reading on the workers of this Dask scheduler (tcp://host:8786); see docs/cluster.md.")
    ] = None,
    local_cluster: Annotated[
        Optional[int], typer.Option(min=1, help="Start a Dask cluster of this many worker processes here and run the reading on it.")
    ] = None,
    live: Annotated[bool, typer.Option(help="Show the live progress display.")] = True,
    verify: Annotated[bool, typer.Option(help="After the verdict, check a disk image against its acquisition hash.")] = True,
    shadow_copies: Annotated[bool, typer.Option(help="Also scan every volume shadow copy.")] = False,
    perceptual: Annotated[
        bool, typer.Option(help="Decode pictures and videos for PDQ/vPDQ near matches (after the exact hashing).")
    ] = True,
    pdq_radius: Annotated[int, typer.Option(min=0, max=64, help="Largest PDQ distance that counts as a near match.")] = 31,
    embedded: Annotated[
        bool, typer.Option(help="Search documents and unknown files (up to 64 MiB) for pictures and videos inside them.")
    ] = True,
    carve: Annotated[
        bool, typer.Option(help="Disk images: carve free space (gaps, unformatted volumes, free NTFS/FAT clusters).")
    ] = True,
    max_depth: Annotated[
        Optional[int], typer.Option("--max-depth", min=1, max=1000, show_default=False,
                                    help="Levels of archives within archives to open (default 5); deeper ones are reported.")
    ] = None,
    bitlocker_password: Annotated[
        Optional[str], typer.Option(envvar="FIELDLAB_BITLOCKER_PASSWORD", help="Password of a BitLocker volume.")
    ] = None,
    bitlocker_recovery_key: Annotated[
        Optional[str], typer.Option(envvar="FIELDLAB_BITLOCKER_RECOVERY_KEY", help="48-digit BitLocker recovery key.")
    ] = None,
    luks_password: Annotated[
        Optional[str], typer.Option(envvar="FIELDLAB_LUKS_PASSWORD", help="Passphrase of a LUKS1 or LUKS2 volume (Linux disk encryption).")
    ] = None,
    password: Annotated[
        Optional[list[str]],
        typer.Option("--password", help="A password to try on encrypted zip and 7z archives, PDFs, Android backups (.ab) and an encrypted iOS backup folder (repeatable); never written to the case."),
    ] = None,
    password_file: Annotated[
        Optional[Path], typer.Option("--password-file", help="A UTF-8 text file of passwords to try, one per line.")
    ] = None,
    parent: Annotated[
        Optional[list[Path]],
        typer.Option("--parent", help="A differencing image's parent (VHD/VHDX, QCOW2 backing file, VMDK or VDI snapshot), or a folder holding it, when it is not beside the image (repeatable). The name an image gives its parent is only looked for beside it and here, never followed elsewhere."),
    ] = None,
    second_copy: Annotated[
        bool,
        typer.Option("--second-copy", help="Scan a source this case already holds under another exhibit reference, on purpose. Without it such a source is refused, as its pictures would count twice: the same path or file, a folder inside (or holding) one scanned, a file of the same differencing chain, the same media hash (acquisition or verified), or the same device (its /dev/disk/by-id name, or an image's acquired model and serial)."),
    ] = False,
    classify: Annotated[
        Optional[bool],
        typer.Option("--classify/--no-classify", help="After PDQ, run the nudity-and-person detector on each picture to order the review queue (never a verdict). Default: on when fieldlab\\[classify] is installed."),
    ] = None,
    classify_model: Annotated[
        Optional[Path],
        typer.Option("--classify-model", help="A force's own ONNX detector of the contract in docs/classifier.md, instead of NudeNet's."),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Scan a folder, device, disk image, phone extraction or archive, and show a live verdict.

    Deleted and orphan files and NTFS alternate data streams are included. Re-run the same command to resume.

    Example: [bold]fieldlab scan /media/usb0 --case ~/cases/op-ash --exhibit JD/1[/]

    In the lab: [bold]fieldlab scan /evidence/op-ash/disk1.E01 --case /cases/op-ash --cluster tcp://scheduler:8786[/]
    """
    from fieldlab import api
    from fieldlab.evidence.image import UnlockOptions
    from fieldlab.report.verdict import verdict_table
    from fieldlab.triage.live import LiveDisplay

    passwords = tuple(dict.fromkeys([*(password or []), *(password_lines(password_file) if password_file else [])]))
    unlock = UnlockOptions(bitlocker_password=bitlocker_password, bitlocker_recovery_key=bitlocker_recovery_key,
                           luks_password=luks_password, shadow_copies=shadow_copies, archive_passwords=passwords)
    shown_live = LiveDisplay(console) if live and console.is_terminal else contextlib.nullcontext()
    with shown_live as display:
        result = api.scan(
            source, case, exhibit_ref=exhibit, hash_sets=hashset, home=home, sha256=sha256, workers=workers,
            observer=display, unlock=unlock, verify=verify, perceptual=perceptual, pdq_radius=pdq_radius,
            embedded=embedded, carve=carve, cluster=cluster, local_cluster=local_cluster, parents=parent or [],
            second_copy=second_copy, max_depth=max_depth, classify=classify, classify_model=classify_model,
        )
    if result.interrupted:
        errors.print("[yellow]Scan interrupted. Everything read so far is recorded; run the same command again to resume.[/]")
    if result.incomplete:
        errors.print(f"[yellow]Exhibit {escape(result.exhibit.ref)} is incomplete: {escape(result.incomplete)}[/]")
        console.print(verdict_table(api.summary(case), title=f"Verdict: {case}", details=errors_hint(case)))
    raise typer.Exit(130 if result.interrupted else 0)


@case_app.command()
def prescan(
    source: Annotated[Path, typer.Argument(help="Disk image (raw, split, E01, VMDK, VHD/VHDX, QCOW2, VDI, Apple .dmg) or device, opened read-only.")],
    minutes: Annotated[float, typer.Option(help="Time budget in minutes.")] = 5.0,
    confidence: Annotated[
        Optional[float], typer.Option(help="Stop as soon as --min-mib of known material would be detected with this probability (e.g. 0.95).")
    ] = None,
    min_mib: Annotated[float, typer.Option("--min-mib", help="The amount of known material (MiB) the statement is about.")] = 1.0,
    block_sets: Annotated[Optional[str], typer.Option("--block-sets", help="Block-hash sets to match, comma-separated (default: all).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the random sample, to repeat a run exactly (default: random, printed).")] = None,
    stop_on_match: Annotated[bool, typer.Option(help="Stop at the first matching block.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON instead of tables.")] = False,
    home: HomeOption = None,
) -> None:
    """Sample random 4 KiB blocks of a disk and match them against block-hash sets: a verdict with a stated
    confidence in minutes, before (or instead of) a full scan.

    Example: [bold]fieldlab prescan /dev/sdb --minutes 3 --min-mib 1[/]
    """
    import json as json_module

    from rich.progress import Progress

    from fieldlab import api
    from fieldlab.report.prescan import prescan_matches_table, prescan_summary_table, prescan_verdict
    from fieldlab.triage.prescan import PrescanProgress

    names = [n.strip() for n in block_sets.split(",") if n.strip()] if block_sets else None
    if json_output or not errors.is_terminal:
        result = api.prescan(source, names, minutes=minutes, confidence=confidence, min_mib=min_mib, seed=seed,
                             stop_on_match=stop_on_match, home=home)
    else:
        with Progress(console=errors, transient=True) as bar:
            task = bar.add_task("sampling", total=None)

            def show(progress: PrescanProgress) -> None:
                bar.update(task, description=f"{progress.blocks_read:,} blocks read, {progress.matches:,} matching, "
                                             f"P(detect {min_mib:g} MiB) {100 * progress.probability:.1f}%")

            result = api.prescan(source, names, minutes=minutes, confidence=confidence, min_mib=min_mib,
                                 seed=seed, stop_on_match=stop_on_match, home=home, observer=show)
    if json_output:
        print(json_module.dumps(result.to_json_dict(), indent=2))
    else:
        console.print(prescan_summary_table(result))
        if result.matches:
            console.print(prescan_matches_table(result))
        console.print(prescan_verdict(result))
    raise typer.Exit(130 if result.stopped == "interrupted" else 0)


@case_app.command()
def summary(
    case: CaseArgument,
    json_output: Annotated[bool, typer.Option("--json", help="Print the counts as JSON instead of a table.")] = False,
) -> None:
    """Print the verdict table of a case again.

    Example: [bold]fieldlab summary ~/cases/op-ash[/]
    """
    import json as json_module

    from fieldlab import api
    from fieldlab.report.verdict import summary_json, verdict_table

    counts = api.summary(case)
    if json_output:
        print(json_module.dumps([summary_json(c) for c in counts], indent=2))
        return
    console.print(verdict_table(counts, title=f"Verdict: {case}", details=errors_hint(case)))


@case_app.command("errors")
def errors_command(
    case: CaseArgument,
    kind: Annotated[Optional[str], typer.Option(help=f"Only this kind: {', '.join(ProblemKind)}.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the problems the scans recorded, by kind: what happened, at which stage, to which item.

    Example: [bold]fieldlab errors ~/cases/op-ash --kind damaged[/]
    """
    import json as json_module

    from fieldlab import api
    from fieldlab.problems import parse_kind

    chosen = parse_kind(kind) if kind else None
    rows = api.list_problems(case, chosen)
    if json_output:
        print(json_module.dumps([r.to_json_dict() for r in rows], indent=2, ensure_ascii=False))
        return
    if not rows:
        console.print("No problems recorded." if chosen is None else f"No problems of kind {chosen.value} recorded.")
        return
    table = Table(title=f"Problems: {case}", title_justify="left")
    for column in ("Exhibit", "Kind", "Stage", "Path", "Message"):
        table.add_column(column, overflow="fold")  # a path is wrapped, never cut short with an ellipsis
    for r in rows:
        table.add_row(escape(r.exhibit), r.kind.label, r.stage, escape(shown(r.path)), escape(shown(r.message)))
    console.print(table)


@case_app.command("phones")
def phones(
    case: CaseArgument,
    records: Annotated[Optional[str], typer.Option(
        help="Write gallery/manifest records as CSV: all, missing (referenced, not present), trashed or hidden.")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="File for --records (default: standard output).")] = None,
) -> None:
    """Show the phones in a case: devices, what their galleries and backup manifests record, and pictures their
    own cameras may have taken.

    Example: [bold]fieldlab phones ~/cases/op-ash --records missing -o missing.csv[/]
    """
    from fieldlab.case.phone import (
        RECORD_FILTERS,
        case_devices,
        first_generation_candidates,
        iter_records,
        record_counts,
    )
    from fieldlab.report.phone import camera_table, devices_table, records_table, write_records_csv

    if records is not None and records not in RECORD_FILTERS:
        fail(f"--records must be one of {', '.join(RECORD_FILTERS)}")
    store = open_case(case)
    try:
        if records is not None:
            if output is None:
                count = write_records_csv(iter_records(store, records), sys.stdout)
            else:
                refuse_output(store.exhibits(), output)
                with open(output, "w", encoding="utf-8", newline="") as out:
                    count = write_records_csv(iter_records(store, records), out)
            errors.print(f"{count:,} records written")
            return
        found = case_devices(store)
        console.print(devices_table(found) if found else "No phone or tablet extraction found in this case.")
        for exhibit in store.exhibits():
            if counts := record_counts(store, exhibit.id):
                console.print(records_table(exhibit.ref, counts))
        if matches := first_generation_candidates(store):
            console.print(camera_table(matches))
    finally:
        store.close()


@case_app.command()
def hits(
    case: CaseArgument,
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="File to write (default: standard output).")] = None,
) -> None:
    """Write every hit (exhibit, locator, path, digests, category, hash set, method) as CSV or JSON.

    CSV: one row per item and hash set, its methods joined (md5+sha1). JSON: every match apart.

    Example: [bold]fieldlab hits ~/cases/op-ash --format csv -o hits.csv[/]
    """
    from fieldlab import api
    from fieldlab.case.read_only import ReadOnlyCase
    from fieldlab.report.hits import write_hits_csv, write_hits_json

    writers = {"csv": write_hits_csv, "json": write_hits_json}
    if fmt not in writers:
        fail("--format must be csv or json")
    rows = api.hits(case)
    if output is None:
        count = writers[fmt](rows, sys.stdout)
    else:
        with ReadOnlyCase.open(case) as read:
            refuse_output(read.exhibits(), output)
        with open(output, "w", encoding="utf-8", newline="") as out:
            count = writers[fmt](rows, out)
    errors.print(f"{count:,} {'rows (one per item and hash set)' if fmt == 'csv' else 'matches'} written")


@case_app.command("charges")
def charges(
    case: CaseArgument,
    profile: ProfileOption = "uk",
) -> None:
    """Print the charging table: distinct images per category (copies in brackets), stills and movies apart,
    for all exhibits together and each exhibit; hash-set, examiner and indicative counts are never added together.

    Example: [bold]fieldlab charges ~/cases/op-ash[/]
    """
    from fieldlab.report.charging import charging_table
    from fieldlab.report.charging_text import charging_tables

    check_profile(profile)
    store = open_case(case)
    try:
        table = charging_table(store, profile)
    finally:
        store.close()
    shown = charging_tables(table)
    for part in shown:
        console.print(part)
    if not shown:
        console.print("Nothing to count: no item of this case matched a categorised record or was categorised.")
    if table.not_indecent:
        console.print(f"{table.not_indecent:,} image(s) an examiner or every matching set called not indecent: not counted.")


@case_app.command("report")
def report(
    case: CaseArgument,
    fmt: Annotated[str, typer.Option("--format", help="pdf or html.")] = "pdf",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="File to write (default: report-PROFILE-TIME.FORMAT in the case folder).")] = None,
    profile: ProfileOption = "uk",
    declaration: Annotated[Optional[Path], typer.Option(help="UTF-8 text file: the examiner's declaration, printed as written.")] = None,
    thumbnails: Annotated[bool, typer.Option("--thumbnails", help="Show small blurred greyscale pictures of counted items, drawn anew from the evidence.")] = False,
    password: Annotated[
        Optional[list[str]],
        typer.Option("--password", help="With --thumbnails: the password of an encrypted exhibit (a LUKS or BitLocker volume, an encrypted backup or archive), so its pictures can be drawn (repeatable); never written."),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Write the court report: charging table, exhibits, method, every counted item, declarations, audit trail.

    Example: [bold]fieldlab report ~/cases/op-ash --format pdf -o op-ash.pdf --declaration statement.txt[/]
    """
    from fieldlab import api

    if fmt not in ("html", "pdf"):
        fail("--format must be pdf or html")
    check_profile(profile)
    text = None
    if declaration is not None:
        try:
            text = declaration.read_bytes().decode("utf-8-sig")
        except OSError as exc:
            fail(f"cannot read the declaration {declaration}: {exc.strerror or exc}")
        except UnicodeDecodeError:
            fail(f"the declaration {declaration} is not UTF-8 text: save it as UTF-8 and run the report again")
    try:
        written = api.report(case, fmt, output, profile=profile, declaration=text, thumbnails=thumbnails,
                             passwords=tuple(password or ()), home=home)
    except OSError as exc:
        fail(f"cannot write the report: {exc.strerror or exc}")
    console.print(f"Report written: {escape(str(written.path))}\nSHA-256 {written.sha256} (recorded in the audit trail)")


@case_app.command("group")
def group(
    case: CaseArgument,
    radius: Annotated[int, typer.Option(min=0, max=64, help="Largest PDQ distance between two copies of a picture.")] = 31,
) -> None:
    """Group the case's pictures into near-duplicates (resized, recompressed, edited copies), to review a group at once.

    Example: [bold]fieldlab group ~/cases/op-ash[/]
    """
    from fieldlab.case.groups import group_pictures, largest_groups

    store = open_case(case)
    try:
        found = group_pictures(store, radius)
        console.print(f"{found.groups:,} groups of near-duplicate pictures, {found.grouped_items:,} pictures in them, "
                      f"the largest of {found.largest:,}")
        for group_id, members in largest_groups(store, 10):
            console.print(f"  group {group_id}: {members:,} pictures")
    finally:
        store.close()


@case_app.command("categorise")
def categorise(
    case: CaseArgument,
    item_ids: Annotated[list[int], typer.Argument(help="Item ids (as in the hits export or the review app).")],
    category: Annotated[str, typer.Option(help="The examiner's category, e.g. A, B, C, non-indecent (uk) or 0-4 (us).")],
    profile: Annotated[str, typer.Option(help="Category profile: uk or us.")] = "uk",
    whole_group: Annotated[bool, typer.Option(help="Also every near-duplicate of each item (see: fieldlab group).")] = False,
    note: Annotated[Optional[str], typer.Option(help="Why, for the record.")] = None,
) -> None:
    """Record an examiner's categorisation of items; it is audit-logged and kept apart from hash-set matches.

    Example: [bold]fieldlab categorise ~/cases/op-ash 1042 1043 --category B --whole-group[/]
    """
    from fieldlab.case.decisions import categorise as record
    from fieldlab.case.groups import group_of

    store = open_case(case)
    try:
        chosen = sorted({m for i in item_ids for m in (group_of(store, i) if whole_group else [i])})
        count = record(store, chosen, category, profile=profile, note=note)
    finally:
        store.close()
    console.print(f"{count:,} item(s) categorised {escape(category)} ({profile})")


@case_app.command("export")
def export(
    case: CaseArgument,
    fmt: Annotated[str, typer.Option("--format", help="vics (VICS 2.0 case), case-uco (CASE/UCO JSON-LD), dfxml, or items-csv (every item).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write (its name is yours: never made from evidence).")],
    profile: ProfileOption = "uk",
    mapping: Annotated[Optional[Path], typer.Option(help="vics: the category mapping given to hashset import, to write a force's numbers for UK categories.")] = None,
    all_media: Annotated[bool, typer.Option("--all-media", help="vics: also every other picture and video, uncategorised.")] = False,
) -> None:
    """Write the case for another tool: VICS for Griffeye/CAID, CASE/UCO, DFXML, or a CSV of every item.

    The file's SHA-256 is recorded in the audit trail.

    Example: [bold]fieldlab export ~/cases/op-ash --format vics --profile uk -o op-ash.vics.json[/]
    """
    from fieldlab import api
    from fieldlab.report.exports import EXPORT_FORMATS

    if fmt not in EXPORT_FORMATS:
        fail(f"--format must be one of {', '.join(EXPORT_FORMATS)}")
    check_profile(profile)
    if (mapping is not None or all_media) and fmt != "vics":
        fail("--mapping and --all-media apply to --format vics only")
    try:
        written = api.export_case(case, fmt, output, profile=profile, mapping_file=mapping, all_media=all_media)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    console.print(f"{written.items:,} items written to {escape(str(written.output))} ({fmt}, profile {written.profile})\n"
                  f"SHA-256 {written.sha256} (recorded in the audit trail)")


@case_app.command("verify")
def verify_image(
    image: Annotated[Path, typer.Argument(help="Disk image (first segment) to check.")],
) -> None:
    """Recompute a disk image's hash and compare it with the hash stored at acquisition (E01).

    Example: [bold]fieldlab verify /evidence/JD-1.E01[/]
    """
    from rich.progress import Progress

    from fieldlab.evidence.containers import open_container
    from fieldlab.evidence.verify import verify_media

    media = open_container(image)
    try:
        with Progress(console=errors, transient=True) as bar:
            task = bar.add_task("verifying", total=media.size)
            result = verify_media(media, lambda done, _total: bar.update(task, completed=done))
    finally:
        media.close()
    for name, value in result.computed.items():
        console.print(f"{name.upper():5} computed {value}   stored {result.stored.get(name, '(none)')}")
    style = {"verified": "green", "no stored hash": "yellow"}.get(result.state, "bold red")
    console.print(f"[{style}]{result.state}[/]: {escape(result.message)}")
    raise typer.Exit(0 if result.state in ("verified", "no stored hash") else 1)


@case_app.command()
def demo(
    folder: Annotated[Path, typer.Argument(help="Empty or new folder for the demo evidence, library and case.")] = Path(
        "fieldlab-demo"
    ),
) -> None:
    """Build synthetic demo evidence and a hash set, import, scan, print the verdict, write hits and the report.

    Example: [bold]fieldlab demo /tmp/fieldlab-demo[/]
    """
    from fieldlab import api
    from fieldlab.cli.hashsets import hashset_import
    from fieldlab.demo import build_demo_case
    from fieldlab.report.hits import write_hits_csv
    from fieldlab.report.verdict import verdict_table

    try:
        built = build_demo_case(folder)
    except FileExistsError as exc:
        fail(str(exc))
    home = folder / "library"
    console.print(f"Demo evidence: {escape(str(built.evidence_dir))} ({len(built.planted)} known files planted)")
    hashset_import(built.vics_path, name="demo-vics", fmt="auto", profile="uk", mapping=built.mapping_path,
                   replace=False, update=False, known_good=False, category=None, home=home)
    hashset_import(built.csv_path, name="demo-csv", fmt="auto", profile="uk", mapping=None,
                   replace=False, update=False, known_good=False, category=None, home=home)
    case_dir = folder / "case"
    result = api.scan(built.evidence_dir, case_dir, exhibit_ref="DEMO-1", home=home)
    console.print(verdict_table(api.summary(case_dir), title=f"Verdict: {case_dir}", details=errors_hint(case_dir)))
    hits_file = folder / "hits.csv"
    with open(hits_file, "w", encoding="utf-8", newline="") as out:
        write_hits_csv(api.hits(case_dir), out)
    reports = [api.report(case_dir, fmt, folder / f"report.{fmt}", home=home).path for fmt in ("html", "pdf")]
    console.print(
        f"{result.progress.hit_items} known items found of {len(built.planted)} planted. "
        f"Hits: {escape(str(hits_file))}. Report: {', '.join(escape(str(r)) for r in reports)}. "
        f"Case: {escape(str(case_dir))}"
    )


@case_app.command()
def validate(
    out: Annotated[Path, typer.Option("--out", help="New or empty folder for the corpus, the scans and the record.")] = Path(
        "fieldlab-validation"),
    seed: Annotated[int, typer.Option("--seed", help="Corpus seed: the same seed and version give the same bytes.")] = 1,
    size: Annotated[str, typer.Option("--size", help="quick (CI, minutes), standard (under 30 minutes) or large.")] = "quick",
    peers: Annotated[bool, typer.Option("--peers", help="Also run tsk_recover -e, foremost and photorec where installed.")] = False,
) -> None:
    """Build a ground-truth corpus, scan it with the default settings, and write a validation record (JSON, HTML, PDF)
    with recall per class, false positives, versions and limits found.

    Example: [bold]fieldlab validate --out /tmp/validation --size quick[/]
    """
    import json

    from fieldlab.validation import SIZES
    from fieldlab.validation import validate as run_validation

    if size not in SIZES:
        fail(f"--size must be one of {', '.join(SIZES)}, not {size!r}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        fail(f"{out} is not an empty folder: choose a new folder for the validation")
    try:
        written = run_validation(out, seed=seed, size=size, peers=peers)
    except RuntimeError as exc:
        fail(str(exc))
    record = json.loads(written.json.read_text(encoding="utf-8"))
    table = Table(title=f"Validation: {size} corpus, seed {seed}")
    for column in ("class", "found", "recall", "95% interval"):
        table.add_column(column)
    for c in record["fieldlab"]["classes"]:
        table.add_row(c["name"], f"{c['found']}/{c['planted']}", f"{100 * c['recall']:.0f}%",
                      f"{100 * c['low']:.0f}-{100 * c['high']:.0f}%", style=None if c["found"] == c["planted"] else "red")
    console.print(table)
    precision = record["fieldlab"]["precision"]
    console.print(f"False positives on {record['fieldlab']['benign_items']} benign items: "
                  f"{record['fieldlab']['benign_hit']}; precision "
                  f"{'n/a (nothing matched)' if precision is None else f'{100 * precision:.1f}%'}. "
                  f"Record: {escape(str(written.pdf))}, {escape(str(written.html))}, {escape(str(written.json))}")
