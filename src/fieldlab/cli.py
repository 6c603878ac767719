"""The ``fieldlab`` command: a thin layer over the library, worded for an examiner at 6 a.m. on a doorstep."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from fieldlab import api
from fieldlab.case.store import CaseError, CaseStore
from fieldlab.detect.classify import ClassifierError
from fieldlab.evidence.containers import ContainerError
from fieldlab.evidence.folder import SourceError
from fieldlab.evidence.archives import MAX_DEPTH
from fieldlab.evidence.image import UnlockOptions
from fieldlab.hashsets.formats import FORMATS
from fieldlab.hashsets.library import HashSetError, HashSetLibrary
from fieldlab.hashsets.profiles import PROFILES
from fieldlab.report.hits import write_hits_csv, write_hits_json
from fieldlab.locator import display_bytes
from fieldlab.problems import ProblemKind, parse_kind
from fieldlab.report.verdict import summary_json, verdict_table
from fieldlab.triage.cluster import ClusterError
from fieldlab.triage.live import LiveDisplay

app = typer.Typer(
    help="Read-only triage of seized devices for known indecent images of children.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
hashset_app = typer.Typer(help="Import and list the hash sets scans match against.", no_args_is_help=True)
audit_app = typer.Typer(help="Check or list a case's tamper-evident audit trail.", no_args_is_help=True)
app.add_typer(hashset_app, name="hashset")
app.add_typer(audit_app, name="audit")
user_app = typer.Typer(help="Accounts of the review app (fieldlab serve), kept in the case.", no_args_is_help=True)
app.add_typer(user_app, name="user")
from fieldlab.ops.cli import db_app, ops_app  # noqa: E402 - the operations commands (fieldlab/ops/cli.py)

app.add_typer(db_app, name="db")
app.add_typer(ops_app, name="ops")

console = Console(width=None if Console().is_terminal else 160)
errors = Console(stderr=True, soft_wrap=True)

HomeOption = Annotated[
    Optional[Path],
    typer.Option("--home", envvar="FIELDLAB_HOME", help="Hash-set library folder (default: per-user data folder)."),
]


def _fail(message: str, code: int = 2) -> None:
    errors.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


@hashset_app.command("import")
def hashset_import(
    path: Annotated[Path, typer.Argument(help="The hash-set file: VICS JSON, CSV, md5sum/sha1sum/bare list, NSRL RDSv3 or NSRLFile.txt, EnCase .hash, HashKeeper, TSK .kdb, PDQ list; or a folder of vPDQ hash files (known videos).")],
    name: Annotated[Optional[str], typer.Option(help="Name in the library (default: from the file name).")] = None,
    fmt: Annotated[str, typer.Option("--format", help=f"auto, vpdq (a folder) or one of: {', '.join(FORMATS)}.")] = "auto",
    profile: Annotated[str, typer.Option(help=f"Category profile: {', '.join(PROFILES)}.")] = "uk",
    mapping: Annotated[Optional[Path], typer.Option(help="JSON file mapping raw categories to profile labels.")] = None,
    replace: Annotated[bool, typer.Option(help="Replace a set of the same name.")] = False,
    update: Annotated[bool, typer.Option(help="Merge this file into the existing set --name (a periodic update).")] = False,
    known_good: Annotated[
        Optional[bool],
        typer.Option("--known-good/--known-bad", help="Known-good files (NSRL: the default for NSRL formats) or known material."),
    ] = None,
    category: Annotated[Optional[str], typer.Option(help="The category of every entry the file leaves uncategorised (plain hash and PDQ lists; videos a categories.csv does not list).")] = None,
    home: HomeOption = None,
) -> None:
    """Import a hash set into the library.

    Example: [bold]fieldlab hashset import caid_export.json --name caid --profile uk --mapping caid_codes.json[/]
    """
    if fmt != "auto" and fmt not in (*FORMATS, "vpdq", "blocks"):
        _fail(f"unknown format {fmt!r}: use auto, vpdq, blocks or one of {', '.join(FORMATS)}")
    try:
        if update:
            if not name:
                _fail("--update needs the --name of the set to update")
            report = api.update_hashset(path, name, fmt, mapping, home)
        else:
            report = api.import_hashset(path, name, fmt, profile, mapping, replace, home, known_good, category)
    except (HashSetError, ValueError, OSError) as exc:
        _fail(str(exc))
    info = report.info
    console.print(
        f"Imported [bold]{escape(info.name)}[/] ({info.format}, {'known-good' if info.known_good else 'profile ' + info.profile}): "
        f"{info.entries:,} entries, "
        + ", ".join(f"{n:,} {kind}" for kind, n in info.counts.items())
    )
    if info.per_category:
        console.print("  by category: " + ", ".join(f"{escape(k)}: {v:,}" for k, v in sorted(info.per_category.items())))
    if info.unmapped_categories:
        console.print(
            "[yellow]  categories the profile does not know (imported as uncategorised; supply --mapping):[/] "
            + ", ".join(f"{escape(repr(k))} x{v:,}" for k, v in info.unmapped_categories.items())
        )
    if info.conflicts:
        console.print(f"[yellow]  {info.conflicts:,} digests listed under different categories: the most serious kept[/]")
    if info.problems:
        console.print(f"[yellow]  {info.problems:,} lines with problems[/], each saying what was skipped or kept "
                      f"(all listed in {escape(str(report.problems_file))}):")
        for problem in report.problems[:10]:
            console.print(f"    line {problem.line}: {escape(problem.reason)}")


@hashset_app.command("list")
def hashset_list(home: HomeOption = None) -> None:
    """List the hash sets in the library.

    Example: [bold]fieldlab hashset list[/]
    """
    sets = api.list_hashsets(home)
    if not sets:
        console.print(f"No hash sets in {escape(str(HashSetLibrary(home).folder))}. Import one: fieldlab hashset import FILE")
        return
    table = Table(title="Hash-set library")
    counted = ("MD5", "SHA-1", "PDQ", "Videos", "Blocks")
    for column in ("Name", "Profile", "Entries", *counted, "Problems", "Source", "Source SHA-256", "Imported (UTC)"):
        table.add_column(column, justify="right" if column in ("Entries", *counted, "Problems") else "left")
    for info in sets:
        table.add_row(
            escape(info.name), "known-good" if info.known_good else info.profile, f"{info.entries:,}",
            *(f"{info.counts.get(kind, 0):,}" for kind in ("md5", "sha1", "pdq", "videos", "blocks")),
            f"{info.problems:,}", escape(info.source_name), info.source_sha256,
            datetime.fromtimestamp(info.imported_at, timezone.utc).strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


@hashset_app.command("info")
def hashset_info(name: str, home: HomeOption = None) -> None:
    """Everything the library knows about one set: provenance, counts, categories, problems.

    Example: [bold]fieldlab hashset info caid[/]
    """
    sets = {info.name: info for info in api.list_hashsets(home)}
    if name not in sets:
        _fail(f"no hash set named {name!r}; known sets: {', '.join(sorted(sets)) or 'none'}")
    info = sets[name]
    table = Table(show_header=False, title=f"Hash set {escape(name)}")
    rows = [
        ("Purpose", "known-good (never a hit)" if info.known_good else f"known material, profile {info.profile}"),
        ("Source file", escape(info.source_name)), ("Source SHA-256", info.source_sha256),
        ("Version", info.version), ("Format", info.format),
        ("Imported (UTC)", datetime.fromtimestamp(info.imported_at, timezone.utc).isoformat(timespec="seconds")),
        ("Entries", f"{info.entries:,}"),
        ("Digests", ", ".join(f"{kind} {n:,}" for kind, n in info.counts.items())),
        ("By category", ", ".join(f"{escape(k)} {v:,}" for k, v in sorted(info.per_category.items()))),
        ("Lines with problems", f"{info.problems:,}"), ("Listed twice, differently", f"{info.conflicts:,}"),
        ("Trust rank", str(HashSetLibrary(home).trust_order().index(name) + 1)),
    ]
    if info.unmapped_categories:
        rows.append(("Unmapped categories", ", ".join(f"{escape(repr(k))} x{v:,}" for k, v in info.unmapped_categories.items())))
    if info.format == "blocks":
        from fieldlab.hashsets.blocks import load_block_sets

        stats = load_block_sets(HashSetLibrary(home), [name])[0].stats
        rows.append(("Blocks (for prescan)", f"{stats.unique:,} kept of {stats.whole_blocks:,} whole 4 KiB blocks "
                     f"({100 * stats.kept_fraction:.1f}% of the bytes); skipped {stats.low_entropy:,} low-entropy "
                     f"(under {stats.min_entropy:g} bits a byte), {stats.common:,} common to two or more files"))
    for label, value in rows:
        table.add_row(label, value)
    console.print(table)


@hashset_app.command("lookup")
def hashset_lookup(
    digests: Annotated[list[str], typer.Argument(help="MD5, SHA-1 or SHA-256 values (hex), or PDQ hashes with --pdq.")],
    pdq: Annotated[bool, typer.Option("--pdq", help="The values are PDQ hashes: list known hashes within --radius.")] = False,
    radius: Annotated[int, typer.Option(help="With --pdq: the largest Hamming distance that counts as a match.")] = 31,
    home: HomeOption = None,
) -> None:
    """Which sets hold these digests (or, with --pdq, PDQ hashes close to them), and under which category.

    Example: [bold]fieldlab hashset lookup 75b8d00568815a36c3809b46fc84ba6d[/]
    """
    from fieldlab.hashsets.matcher import DigestQuery, HashMatcher

    kinds = {64: "pdq"} if pdq else {32: "md5", 40: "sha1", 64: "sha256"}
    queries = []
    for value in digests:
        text = value.strip().lower()
        kind = kinds.get(len(text))
        if kind is None or any(c not in "0123456789abcdef" for c in text):
            _fail(f"{value!r} is not {'a PDQ hash (64 hex digits)' if pdq else 'an MD5, SHA-1 or SHA-256 in hex'}")
        queries.append(text if pdq else DigestQuery(**{kind: text}))
    matcher = HashMatcher(HashSetLibrary(home).load())
    if pdq:
        import numpy as np

        if not 0 <= radius <= 64:
            _fail("--radius must be between 0 and 64")
        rows = np.frombuffer(bytes.fromhex("".join(queries)), dtype=np.uint8).reshape(-1, 32)
        matches = matcher.match_pdq(rows, radius)
    else:
        matches = matcher.match(queries)
    table = Table(title="Look-up")
    # PDQ rows name their query by number: two 64-digit hashes on one line do not fit a terminal
    for column in ("Query" if pdq else "Digest", "Set", "Category", "Trust rank") + (("Distance", "Known PDQ") if pdq else ()):
        table.add_column(column, no_wrap=column in ("Digest", "Known PDQ"))  # a hash must stay copyable
    for index, value in enumerate(digests):
        label = str(index + 1) if pdq else value.lower()
        if pdq:
            console.print(f"Query {index + 1}: {value.lower()}")
        found = [m for m in matches if m.query_index == index]
        for m in found:
            category = "known-good" if m.known_good else f"{m.category} ({m.profile})"
            near = (str(m.distance), m.matched_hash or "") if pdq else ()
            table.add_row(label, escape(m.hash_set), category, str(m.trust_rank + 1), *near)
        if not found:
            table.add_row(label, "-", "not in any set", "", *(("", "") if pdq else ()))
    console.print(table)


@hashset_app.command("trust")
def hashset_trust(
    names: Annotated[list[str], typer.Argument(help="Set names, most trusted first.")],
    home: HomeOption = None,
) -> None:
    """Set the order in which sets are trusted: the first set's category decides when sets disagree.

    Example: [bold]fieldlab hashset trust caid-verified projectvic[/]
    """
    library = HashSetLibrary(home)
    try:
        library.set_trust_order(names)
    except HashSetError as exc:
        _fail(str(exc))
    console.print("Trust order: " + " > ".join(escape(n) for n in library.trust_order()))


@hashset_app.command("conflicts")
def hashset_conflicts(
    limit: Annotated[int, typer.Option(help="Show at most this many.")] = 1000,
    home: HomeOption = None,
) -> None:
    """List digests that two known-material sets place in different categories, and which category wins.

    Example: [bold]fieldlab hashset conflicts --limit 50[/]
    """
    from fieldlab.hashsets.conflicts import find_conflicts

    table = Table(title="Disagreements between sets (the more trusted set decides)")
    for column in ("Digest", "Kind", "Decides", "Category", "Disagrees", "Its category"):
        table.add_column(column)
    count = 0
    for conflict in find_conflicts(HashSetLibrary(home).load()):
        count += 1
        if count <= limit:
            table.add_row(conflict.digest, conflict.kind, escape(conflict.trusted_set), conflict.trusted_category,
                          escape(conflict.other_set), conflict.other_category)
    console.print(table)
    console.print(f"{count:,} disagreement(s)" + (f"; first {limit:,} shown" if count > limit else ""))


@hashset_app.command("export")
def hashset_export(
    name: str,
    fmt: Annotated[str, typer.Option("--format", help="csv, vics (VICS 2.0 media file) or blocks (a block-hash set).")] = "csv",
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")] = Path("hashset-export.csv"),
    home: HomeOption = None,
) -> None:
    """Write a set back out, one row per record it was imported from.

    Example: [bold]fieldlab hashset export caid --format vics -o caid.json[/]
    """
    from fieldlab.hashsets.export import export_set

    from fieldlab.hashsets.blocks import export_block_set

    if fmt not in ("csv", "vics", "blocks"):
        _fail("--format must be csv, vics or blocks")
    try:
        if fmt == "blocks":
            count = export_block_set(HashSetLibrary(home), name, output)
        else:
            count = export_set(HashSetLibrary(home), name, fmt, output)
    except HashSetError as exc:
        _fail(str(exc))
    console.print(f"{count:,} {'blocks' if fmt == 'blocks' else 'records'} written to {escape(str(output))}")


@hashset_app.command("blocks")
def hashset_blocks(
    folder: Annotated[Path, typer.Argument(help="Folder of reference files (pictures, videos) whose 4 KiB blocks are hashed.")],
    name: Annotated[str, typer.Option(help="Name of the block-hash set in the library.")],
    category: Annotated[Optional[str], typer.Option(help="The category of every file --categories does not list.")] = None,
    categories: Annotated[Optional[Path], typer.Option(help="CSV of 'relative path,category', a file a row.")] = None,
    profile: Annotated[str, typer.Option(help=f"Category profile: {', '.join(PROFILES)}.")] = "uk",
    mapping: Annotated[Optional[Path], typer.Option(help="JSON file mapping raw categories to profile labels.")] = None,
    min_entropy: Annotated[float, typer.Option(help="Skip blocks whose byte entropy is below this many bits a byte.")] = 6.0,
    replace: Annotated[bool, typer.Option(help="Replace a set of the same name.")] = False,
    home: HomeOption = None,
) -> None:
    """Build a block-hash set, for fieldlab prescan, from a folder of known files.

    Each file's 4 KiB blocks are hashed (MD5), except low-entropy blocks and blocks found in two or more files
    (common headers): see docs/prescan.md.

    Example: [bold]fieldlab hashset blocks /secure/reference --name force-blocks --categories categories.csv[/]
    """
    try:
        report = api.build_block_set(folder, name, category, categories, profile, mapping, replace, home, min_entropy)
    except (HashSetError, ValueError, OSError) as exc:
        _fail(str(exc))
    stats = report.stats
    console.print(
        f"Built block-hash set [bold]{escape(name)}[/]: {stats.files:,} files, {stats.unique:,} blocks kept "
        f"({100 * stats.kept_fraction:.1f}% of the {stats.total_bytes / 2**20:,.1f} MiB of reference bytes)"
    )
    console.print(
        f"  skipped: {stats.low_entropy:,} low-entropy blocks (entropy under {stats.min_entropy:g} bits a byte, "
        f"constant or repeating), {stats.common:,} blocks common to two or more files "
        f"({stats.common_digests:,} distinct contents)"
    )
    if report.info.per_category:
        console.print("  files by category: " + ", ".join(f"{escape(k)}: {v:,}" for k, v in sorted(report.info.per_category.items())))
    if stats.small_files:
        console.print(f"[yellow]  {stats.small_files:,} files are under 4 KiB: they have no whole block, so no sample can find them[/]")
    if report.info.unmapped_categories:
        console.print("[yellow]  categories the profile does not know (kept as uncategorised; supply --mapping):[/] "
                      + ", ".join(f"{escape(repr(k))} x{v:,}" for k, v in report.info.unmapped_categories.items()))
    if report.problems:
        console.print(f"[yellow]  {report.info.problems:,} problems[/] (all listed in {escape(str(report.problems_file))}):")
        for problem in report.problems[:10]:
            console.print(f"    {escape(problem.reason)}")


@hashset_app.command("remove")
def hashset_remove(name: str, home: HomeOption = None) -> None:
    """Remove a hash set from the library.

    Example: [bold]fieldlab hashset remove old_caid[/]
    """
    try:
        HashSetLibrary(home).remove(name)
    except HashSetError as exc:
        _fail(str(exc))
    console.print(f"Removed {escape(name)}")


@app.command()
def scan(
    source: Annotated[Path, typer.Argument(help="Folder or mounted device to scan (opened read-only).")],
    case: Annotated[Path, typer.Option("--case", help="Case folder (created if new).")],
    exhibit: Annotated[Optional[str], typer.Option(help="Exhibit reference (default: the source folder's name).")] = None,
    hashset: Annotated[Optional[list[str]], typer.Option(help="Hash set to match (repeatable; default: all).")] = None,
    sha256: Annotated[bool, typer.Option(help="Also compute SHA-256.")] = False,
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
        int, typer.Option("--max-depth", min=1, max=1000,
                          help=f"Levels of archives within archives to open (default {MAX_DEPTH}); deeper ones are reported.")
    ] = MAX_DEPTH,
    bitlocker_password: Annotated[
        Optional[str], typer.Option(envvar="FIELDLAB_BITLOCKER_PASSWORD", help="Password of a BitLocker volume.")
    ] = None,
    bitlocker_recovery_key: Annotated[
        Optional[str], typer.Option(envvar="FIELDLAB_BITLOCKER_RECOVERY_KEY", help="48-digit BitLocker recovery key.")
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
        typer.Option("--parent", help="A differencing image's parent (VHD/VHDX, QCOW2 backing file, VMDK snapshot), or a folder holding it, when it is not beside the image (repeatable). The name an image gives its parent is only looked for beside it and here, never followed elsewhere."),
    ] = None,
    second_copy: Annotated[
        bool,
        typer.Option("--second-copy", help="Scan a source this case already holds under another exhibit reference, on purpose. Without it such a source is refused, as its pictures would count twice: the same path or file, a folder inside (or holding) one scanned, a file of the same differencing chain, the same media hash (acquisition or verified), or the same device (its /dev/disk/by-id name, or an image's acquired model and serial)."),
    ] = False,
    classify: Annotated[
        Optional[bool],
        typer.Option("--classify/--no-classify", help="After PDQ, run the nudity-and-person detector on each picture to order the review queue (never a verdict). Default: on when fieldlab[classify] is installed."),
    ] = None,
    classify_model: Annotated[
        Optional[Path],
        typer.Option("--classify-model", help="A force's own ONNX detector of the contract in docs/classifier.md, instead of NudeNet's."),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Scan a folder, device or disk image (raw, split, E01, VMDK, VHD/VHDX, QCOW2) and show a live verdict.

    Deleted and orphan files and NTFS alternate data streams are included. Re-run the same command to resume.

    Example: [bold]fieldlab scan /media/usb0 --case ~/cases/op-ash --exhibit JD/1[/]

    In the lab: [bold]fieldlab scan /evidence/op-ash/disk1.E01 --case /cases/op-ash --cluster tcp://scheduler:8786[/]
    """
    passwords = tuple(dict.fromkeys([*(password or []), *(_password_lines(password_file) if password_file else [])]))
    unlock = UnlockOptions(bitlocker_password, bitlocker_recovery_key, shadow_copies, passwords)
    try:
        if live and console.is_terminal:
            with LiveDisplay(console) as display:
                result = api.scan(source, case, exhibit, hashset, home, sha256, workers, display, unlock, verify,
                                  perceptual, pdq_radius, embedded, carve, cluster=cluster, local_cluster=local_cluster,
                                  parents=parent or [], second_copy=second_copy,
                                  max_depth=max_depth, classify=classify, classify_model=classify_model)
        else:
            result = api.scan(source, case, exhibit, hashset, home, sha256, workers, None, unlock, verify,
                              perceptual, pdq_radius, embedded, carve, cluster=cluster, local_cluster=local_cluster,
                              parents=parent or [], second_copy=second_copy, max_depth=max_depth, classify=classify,
                              classify_model=classify_model)
    except (SourceError, ContainerError, CaseError, HashSetError, ClusterError, ClassifierError) as exc:
        _fail(str(exc))
    if result.interrupted:
        errors.print("[yellow]Scan interrupted. Everything read so far is recorded; run the same command again to resume.[/]")
    if result.incomplete:
        errors.print(f"[yellow]Exhibit {escape(result.exhibit.ref)} is incomplete: {escape(result.incomplete)}[/]")
        console.print(verdict_table(api.summary(case), title=f"Verdict: {case}", details=_errors_command(case)))
    raise typer.Exit(130 if result.interrupted else 0)


def _shown(text: str) -> str:
    """Stored text (paths are stored escaped, messages may quote hostile names) made safe for a terminal again."""
    return display_bytes(text.encode("utf-8", "backslashreplace"))


def _errors_command(case: Path) -> str:
    return f"fieldlab errors {escape(str(case))}"


def _password_lines(path: Path) -> list[str]:
    """One password a line, exactly as typed: only the line ending is removed (spaces may be part of one)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        _fail(f"cannot read the password file {path}: {exc.strerror or exc}")
    except UnicodeDecodeError:
        _fail(f"the password file {path} is not UTF-8 text: save it as UTF-8 and run the scan again")
    return [line for line in text.splitlines() if line]


@app.command()
def prescan(
    source: Annotated[Path, typer.Argument(help="Disk image (raw, split, E01, VMDK, VHD/VHDX, QCOW2) or device, opened read-only.")],
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

    from fieldlab.report.prescan import prescan_matches_table, prescan_summary_table, prescan_verdict
    from fieldlab.triage.prescan import PrescanProgress

    names = [n.strip() for n in block_sets.split(",") if n.strip()] if block_sets else None
    try:
        if json_output or not errors.is_terminal:
            result = api.prescan(source, names, minutes, confidence, min_mib, seed, stop_on_match, home)
        else:
            with Progress(console=errors, transient=True) as bar:
                task = bar.add_task("sampling", total=None)

                def show(progress: PrescanProgress) -> None:
                    bar.update(task, description=f"{progress.blocks_read:,} blocks read, {progress.matches:,} matching, "
                                                 f"P(detect {min_mib:g} MiB) {100 * progress.probability:.1f}%")

                result = api.prescan(source, names, minutes, confidence, min_mib, seed, stop_on_match, home, show)
    except (SourceError, ContainerError, HashSetError, ValueError) as exc:
        _fail(str(exc))
    if json_output:
        print(json_module.dumps(result.to_json_dict(), indent=2))
    else:
        console.print(prescan_summary_table(result))
        if result.matches:
            console.print(prescan_matches_table(result))
        console.print(prescan_verdict(result))
    raise typer.Exit(130 if result.stopped == "interrupted" else 0)


@app.command()
def summary(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print the counts as JSON instead of a table.")] = False,
) -> None:
    """Print the verdict table of a case again.

    Example: [bold]fieldlab summary ~/cases/op-ash[/]
    """
    import json as json_module

    try:
        counts = api.summary(case)
    except CaseError as exc:
        _fail(str(exc))
    if json_output:
        print(json_module.dumps([summary_json(c) for c in counts], indent=2))
        return
    console.print(verdict_table(counts, title=f"Verdict: {case}", details=_errors_command(case)))


@app.command("errors")
def errors_command(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
    kind: Annotated[Optional[str], typer.Option(help=f"Only this kind: {', '.join(ProblemKind)}.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the problems the scans recorded, by kind: what happened, at which stage, to which item.

    Example: [bold]fieldlab errors ~/cases/op-ash --kind damaged[/]
    """
    import json as json_module

    try:
        chosen = parse_kind(kind) if kind else None
        rows = api.list_problems(case, chosen)
    except (CaseError, ValueError) as exc:
        _fail(str(exc))
    if json_output:
        print(json_module.dumps([r.to_json_dict() for r in rows], indent=2, ensure_ascii=False))
        return
    if not rows:
        console.print("No problems recorded." if chosen is None else f"No problems of kind {chosen.value} recorded.")
        return
    table = Table(title=f"Problems: {case}", title_justify="left")
    for column in ("Exhibit", "Kind", "Stage", "Path", "Message"):
        table.add_column(column)
    for r in rows:
        table.add_row(escape(r.exhibit), r.kind.label, r.stage, escape(_shown(r.path)), escape(_shown(r.message)))
    console.print(table)


@app.command("phones")
def phones(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
    records: Annotated[Optional[str], typer.Option(
        help="Write gallery/manifest records as CSV: all, missing (referenced, not present), trashed or hidden.")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="File for --records (default: standard output).")] = None,
) -> None:
    """Show the phones in a case: devices, what their galleries and backup manifests record, and pictures their
    own cameras may have taken.

    Example: [bold]fieldlab phones ~/cases/op-ash --records missing -o missing.csv[/]
    """
    from fieldlab.case.phone import RECORD_FILTERS, case_devices, first_generation_candidates, iter_records, record_counts
    from fieldlab.report.phone import camera_table, devices_table, records_table, write_records_csv

    if records is not None and records not in RECORD_FILTERS:
        _fail(f"--records must be one of {', '.join(RECORD_FILTERS)}")
    store = _open_case(case)
    try:
        if records is not None:
            if output is None:
                count = write_records_csv(iter_records(store, records), sys.stdout)
            else:
                _refuse_output(store, output)
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


@app.command()
def hits(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="File to write (default: standard output).")] = None,
) -> None:
    """Write every hit (exhibit, locator, path, digests, category, hash set, method) as CSV or JSON.

    CSV: one row per item and hash set, its methods joined (md5+sha1). JSON: every match apart.

    Example: [bold]fieldlab hits ~/cases/op-ash --format csv -o hits.csv[/]
    """
    writers = {"csv": write_hits_csv, "json": write_hits_json}
    if fmt not in writers:
        _fail("--format must be csv or json")
    try:
        rows = api.hits(case)
        if output is None:
            count = writers[fmt](rows, sys.stdout)
        else:
            store = _open_case(case)
            try:
                _refuse_output(store, output)
            finally:
                store.close()
            with open(output, "w", encoding="utf-8", newline="") as out:
                count = writers[fmt](rows, out)
    except CaseError as exc:
        _fail(str(exc))
    errors.print(f"{count:,} {'rows (one per item and hash set)' if fmt == 'csv' else 'matches'} written")


@app.command("charges")
def charges(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
    profile: Annotated[str, typer.Option(help=f"Category profile: {', '.join(PROFILES)}.")] = "uk",
) -> None:
    """Print the charging table: distinct images per category (copies in brackets), stills and movies apart,
    for all exhibits together and each exhibit; hash-set, examiner and indicative counts are never added together.

    Example: [bold]fieldlab charges ~/cases/op-ash[/]
    """
    from fieldlab.report.charging import charging_table
    from fieldlab.report.charging_text import charging_tables

    if profile not in PROFILES:
        _fail(f"--profile must be one of {', '.join(PROFILES)}")
    store = _open_case(case)
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


@app.command("report")
def report(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
    fmt: Annotated[str, typer.Option("--format", help="pdf or html.")] = "pdf",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="File to write (default: report-PROFILE-TIME.FORMAT in the case folder).")] = None,
    profile: Annotated[str, typer.Option(help=f"Category profile: {', '.join(PROFILES)}.")] = "uk",
    declaration: Annotated[Optional[Path], typer.Option(help="UTF-8 text file: the examiner's declaration, printed as written.")] = None,
    thumbnails: Annotated[bool, typer.Option("--thumbnails", help="Show small blurred greyscale pictures of counted items, drawn anew from the evidence.")] = False,
    home: HomeOption = None,
) -> None:
    """Write the court report: charging table, exhibits, method, every counted item, declarations, audit trail.

    Example: [bold]fieldlab report ~/cases/op-ash --format pdf -o op-ash.pdf --declaration statement.txt[/]
    """
    if fmt not in ("html", "pdf"):
        _fail("--format must be pdf or html")
    if profile not in PROFILES:
        _fail(f"--profile must be one of {', '.join(PROFILES)}")
    text = None
    if declaration is not None:
        try:
            text = declaration.read_bytes().decode("utf-8-sig")
        except OSError as exc:
            _fail(f"cannot read the declaration {declaration}: {exc.strerror or exc}")
        except UnicodeDecodeError:
            _fail(f"the declaration {declaration} is not UTF-8 text: save it as UTF-8 and run the report again")
    try:
        written = api.report(case, fmt, output, profile, text, thumbnails, home)
    except CaseError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot write the report: {exc.strerror or exc}")
    console.print(f"Report written: {escape(str(written.path))}\nSHA-256 {written.sha256} (recorded in the audit trail)")


@app.command("group")
def group(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
    radius: Annotated[int, typer.Option(min=0, max=64, help="Largest PDQ distance between two copies of a picture.")] = 31,
) -> None:
    """Group the case's pictures into near-duplicates (resized, recompressed, edited copies), to review a group at once.

    Example: [bold]fieldlab group ~/cases/op-ash[/]
    """
    from fieldlab.case.groups import group_pictures, largest_groups

    store = _open_case(case)
    try:
        found = group_pictures(store, radius)
        console.print(f"{found.groups:,} groups of near-duplicate pictures, {found.grouped_items:,} pictures in them, "
                      f"the largest of {found.largest:,}")
        for group_id, members in largest_groups(store, 10):
            console.print(f"  group {group_id}: {members:,} pictures")
    finally:
        store.close()


@app.command("categorise")
def categorise(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
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

    store = _open_case(case)
    try:
        chosen = sorted({m for i in item_ids for m in (group_of(store, i) if whole_group else [i])})
        count = record(store, chosen, category, profile, note=note)
    except CaseError as exc:
        _fail(str(exc))
    finally:
        store.close()
    console.print(f"{count:,} item(s) categorised {escape(category)} ({profile})")


@hashset_app.command("from-case")
def hashset_from_case(
    case: Annotated[Path, typer.Argument(help="Case folder whose categorised items become a set.")],
    name: Annotated[str, typer.Option(help="Name of the new set (videos go to NAME-videos).")],
    profile: Annotated[str, typer.Option(help="Take the decisions made under this profile.")] = "uk",
    replace: Annotated[bool, typer.Option(help="Replace sets of the same name.")] = False,
    home: HomeOption = None,
) -> None:
    """Build hash sets (MD5/SHA-1/PDQ, and known videos by vPDQ) from the items examiners categorised in a case.

    Example: [bold]fieldlab hashset from-case ~/cases/op-ash --name force-own-2026-11[/]
    """
    from fieldlab.hashsets.from_case import build_from_case

    store = _open_case(case)
    try:
        reports = build_from_case(store, HashSetLibrary(home), name, profile, replace)
    except HashSetError as exc:
        _fail(str(exc))
    finally:
        store.close()
    for report in reports:
        info = report.info
        console.print(f"Imported [bold]{escape(info.name)}[/]: {info.entries:,} entries, "
                      + ", ".join(f"{n:,} {kind}" for kind, n in info.counts.items()))


def _refuse_output(store: CaseStore, output: Path) -> None:
    """An output file named by the examiner never lands inside or beside the case's evidence."""
    from fieldlab.case.outputs import refuse_case_evidence

    try:
        refuse_case_evidence(store, output, "the output")
    except CaseError as exc:
        _fail(str(exc))


def _open_case(case: Path) -> CaseStore:
    try:
        return CaseStore.open(case, create=False)
    except CaseError as exc:
        _fail(str(exc))


@app.command("export")
def export(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
    fmt: Annotated[str, typer.Option("--format", help="vics (VICS 2.0 case), case-uco (CASE/UCO JSON-LD), dfxml, or items-csv (every item).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write (its name is yours: never made from evidence).")],
    profile: Annotated[str, typer.Option(help=f"Category profile: {', '.join(PROFILES)}.")] = "uk",
    mapping: Annotated[Optional[Path], typer.Option(help="vics: the category mapping given to hashset import, to write a force's numbers for UK categories.")] = None,
    all_media: Annotated[bool, typer.Option("--all-media", help="vics: also every other picture and video, uncategorised.")] = False,
) -> None:
    """Write the case for another tool: VICS for Griffeye/CAID, CASE/UCO, DFXML, or a CSV of every item.

    The file's SHA-256 is recorded in the audit trail.

    Example: [bold]fieldlab export ~/cases/op-ash --format vics --profile uk -o op-ash.vics.json[/]
    """
    from fieldlab.report.exports import EXPORT_FORMATS

    if fmt not in EXPORT_FORMATS:
        _fail(f"--format must be one of {', '.join(EXPORT_FORMATS)}")
    if profile not in PROFILES:
        _fail(f"--profile must be one of {', '.join(PROFILES)}")
    if (mapping is not None or all_media) and fmt != "vics":
        _fail("--mapping and --all-media apply to --format vics only")
    try:
        written = api.export_case(case, fmt, output, profile, mapping, all_media)
    except (CaseError, ValueError) as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror or exc}")
    console.print(f"{written.items:,} items written to {escape(str(written.output))} ({fmt}, profile {written.profile})\n"
                  f"SHA-256 {written.sha256} (recorded in the audit trail)")


@app.command("verify")
def verify_image(
    image: Annotated[Path, typer.Argument(help="Disk image (first segment) to check.")],
) -> None:
    """Recompute a disk image's hash and compare it with the hash stored at acquisition (E01).

    Example: [bold]fieldlab verify /evidence/JD-1.E01[/]
    """
    from fieldlab.evidence.containers import open_container
    from fieldlab.evidence.verify import verify_media

    try:
        media = open_container(image)
    except ContainerError as exc:
        _fail(str(exc))
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


@audit_app.command("verify")
def audit_verify(case: Annotated[Path, typer.Argument(help="Case folder.")]) -> None:
    """Check that no audit entry was altered, removed or inserted.

    Example: [bold]fieldlab audit verify ~/cases/op-ash[/]
    """
    try:
        result = api.verify_audit(case)
    except CaseError as exc:
        _fail(str(exc))
    if result.ok:
        console.print(f"[green]Audit trail intact:[/] {result.entries} entries, chain and head verified.")
    else:
        _fail(f"audit trail TAMPERED: {result.problem}", code=1)


@audit_app.command("show")
def audit_show(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
    action: Annotated[Optional[str], typer.Option(help="Only entries of this action (scan_started, items_categorised...).")] = None,
) -> None:
    """List the audit trail readably: number, time (UTC), who, what, and the details.

    Example: [bold]fieldlab audit show ~/cases/op-ash --action items_categorised[/]
    """
    import json as json_module

    store = _open_case(case)
    try:
        entries = store.audit.entries()
    finally:
        store.close()
    table = Table(title=f"Audit trail: {escape(str(case))}", title_justify="left")
    for column in ("#", "When (UTC)", "Who", "Action", "Details", "Hash"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        if action and entry.action != action:
            continue
        details = json_module.dumps(entry.detail, sort_keys=True, ensure_ascii=False)
        table.add_row(str(entry.seq), entry.at, escape(entry.actor), entry.action, escape(details),
                      entry.entry_hash[:16])
    console.print(table)


@app.command()
def demo(
    folder: Annotated[Path, typer.Argument(help="Empty or new folder for the demo evidence, library and case.")] = Path(
        "fieldlab-demo"
    ),
) -> None:
    """Build synthetic demo evidence and a hash set, import, scan, print the verdict, write hits and the report.

    Example: [bold]fieldlab demo /tmp/fieldlab-demo[/]
    """
    from fieldlab.demo import build_demo_case

    try:
        built = build_demo_case(folder)
    except (ValueError, FileExistsError) as exc:
        _fail(str(exc))
    home = folder / "library"
    console.print(f"Demo evidence: {escape(str(built.evidence_dir))} ({len(built.planted)} known files planted)")
    hashset_import(built.vics_path, name="demo-vics", fmt="auto", profile="uk", mapping=built.mapping_path,
                   replace=False, update=False, known_good=False, category=None, home=home)
    hashset_import(built.csv_path, name="demo-csv", fmt="auto", profile="uk", mapping=None,
                   replace=False, update=False, known_good=False, category=None, home=home)
    case_dir = folder / "case"
    result = api.scan(built.evidence_dir, case_dir, "DEMO-1", home=home)
    console.print(verdict_table(api.summary(case_dir), title=f"Verdict: {case_dir}", details=_errors_command(case_dir)))
    hits_file = folder / "hits.csv"
    with open(hits_file, "w", encoding="utf-8", newline="") as out:
        write_hits_csv(api.hits(case_dir), out)
    reports = [api.report(case_dir, fmt, folder / f"report.{fmt}", home=home).path for fmt in ("html", "pdf")]
    console.print(
        f"{result.progress.hit_items} known items found of {len(built.planted)} planted. "
        f"Hits: {escape(str(hits_file))}. Report: {', '.join(escape(str(r)) for r in reports)}. "
        f"Case: {escape(str(case_dir))}"
    )


@app.command()
def validate(
    out: Annotated[Path, typer.Option("--out", help="New or empty folder for the corpus, the scan and the record.")] = Path(
        "fieldlab-validation"),
    seed: Annotated[int, typer.Option("--seed", help="Corpus seed: the same seed and version give the same bytes.")] = 1,
    size: Annotated[str, typer.Option("--size", help="quick (CI, minutes), standard (under 30 minutes) or large.")] = "quick",
    peers: Annotated[bool, typer.Option("--peers", help="Also run tsk_recover -e, foremost and photorec where installed.")] = False,
) -> None:
    """Build a ground-truth corpus, scan it with the default settings, and write a validation record (JSON, HTML, PDF)
    with recall per class, false positives, versions and limits found.

    Example: [bold]fieldlab validate --out /tmp/validation --size quick[/]
    """
    from fieldlab.validation import SIZES, validate as run_validation

    if size not in SIZES:
        _fail(f"--size must be one of {', '.join(SIZES)}, not {size!r}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        _fail(f"{out} is not an empty folder: choose a new folder for the validation")
    try:
        written = run_validation(out, seed, size, peers)
    except RuntimeError as exc:
        _fail(str(exc))
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


@app.command("serve")
def serve(
    case: Annotated[Optional[Path], typer.Argument(help="Case folder to review (or --database/--ops-dir for operations).")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on: 127.0.0.1 keeps the app on this machine.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8765,
    profile: Annotated[str, typer.Option(help="Category profile of the keyboard and the counts: uk or us.")] = "uk",
    tls_cert: Annotated[Optional[Path], typer.Option(help="TLS certificate (PEM), to serve https to a team.")] = None,
    tls_key: Annotated[Optional[Path], typer.Option(help="The certificate's private key (PEM).")] = None,
    database: Annotated[Optional[str], typer.Option(help="Serve operations from this database: postgresql://... (a team) or sqlite:///...")] = None,
    ops_dir: Annotated[Optional[Path], typer.Option(help="Serve operations from the SQLite database in this folder (one examiner).")] = None,
    cases_root: Annotated[Optional[Path], typer.Option(help="Operations: folder of triage cases seized devices may be linked to.")] = None,
    home: HomeOption = None,
) -> None:
    """Serve the review app for a case (dashboard, gallery, item pages, exposure log), or the operations app.

    Example: [bold]fieldlab serve ~/cases/op-ash[/]   then open http://127.0.0.1:8765
    Operations: [bold]fieldlab serve --database postgresql://fieldlab@db/ops --host 10.0.0.5 --tls-cert c.pem --tls-key k.pem[/]
    """
    from fieldlab.web.server import is_loopback, serve as run

    if profile not in PROFILES:
        _fail(f"--profile must be one of {', '.join(PROFILES)}")
    if (tls_cert is None) != (tls_key is None):
        _fail("give both --tls-cert and --tls-key, or neither")
    if database is not None or ops_dir is not None:
        if case is not None:
            _fail("serve a case folder or an operations database, not both: run two servers on two ports")
        return _serve_operations(database, ops_dir, host, port, profile, tls_cert, tls_key, cases_root, home)
    if case is None:
        _fail("give a case folder to review, or --database/--ops-dir to serve operations")
    from fieldlab.web.accounts import list_users

    store = _open_case(case)
    try:
        if not list_users(store):
            errors.print("[yellow]No accounts yet: add one first, e.g.[/] "
                         f"fieldlab user add NAME --case {escape(str(case))} --role examiner")
    finally:
        store.close()
    if not is_loopback(host):
        errors.print(
            f"[bold red]WARNING: serving on {escape(host)}, reachable from the network.[/] Anyone who can reach "
            "this address can try to log in to a case of indecent images. Use it only on a closed police network"
            + ("." if tls_cert else "; without --tls-cert/--tls-key traffic is unencrypted and browsers will not "
               "keep the (Secure) session cookie, so logging in will fail.")
        )
    scheme = "https" if tls_cert else "http"
    shown_host = f"[{host}]" if ":" in host else host
    console.print(f"Review app for {escape(str(case))} at {scheme}://{escape(shown_host)}:{port}  (Ctrl-C stops it)")
    run(case, host, port, profile, tls_cert, tls_key)


def _serve_operations(database: str | None, ops_dir: Path | None, host: str, port: int, profile: str,
                      tls_cert: Path | None, tls_key: Path | None, cases_root: Path | None, home: Path | None) -> None:
    from fieldlab.ops.database import OpsDatabase, OpsError, locate
    from fieldlab.web.accounts import list_users
    from fieldlab.web.server import is_loopback, serve_operations

    try:
        location = locate(database, ops_dir)
        db = OpsDatabase.open(location)
    except OpsError as exc:
        _fail(str(exc))
    try:
        if not list_users(db):
            errors.print("[yellow]No accounts yet: add one first, e.g.[/] fieldlab ops user add NAME "
                          f"{'--ops-dir ' + escape(str(ops_dir)) if ops_dir else '--database URL'} --role supervisor")
    finally:
        db.close()
    if not is_loopback(host):
        errors.print(f"[bold red]WARNING: serving operations on {escape(host)}, reachable from the network.[/] "
                     "Use it only on a closed police network" + ("." if tls_cert else
                                                                 "; without --tls-cert/--tls-key logging in will fail."))
    scheme = "https" if tls_cert else "http"
    shown_host = f"[{host}]" if ":" in host else host
    console.print(f"Operations app for {escape(location.shown)} at {scheme}://{escape(shown_host)}:{port}  "
                  f"(public figures at /public; Ctrl-C stops it)")
    serve_operations(location, host, port, profile, tls_cert, tls_key, cases_root, home)


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="The examiner's name or collar number, as the audit trail should show it.")],
    case: Annotated[Path, typer.Option("--case", help="Case folder.")],
    role: Annotated[str, typer.Option(help="viewer (no pictures), examiner (review and categorise) or supervisor (also accounts).")] = "examiner",
    password_file: Annotated[Optional[Path], typer.Option(help="Read the password from this file's first line instead of asking.")] = None,
) -> None:
    """Add an account to a case's review app; the password is asked for (twice) unless --password-file is given.

    Example: [bold]fieldlab user add "DC 1234 Smith" --case ~/cases/op-ash --role examiner[/]
    """
    from fieldlab.web.accounts import ROLES, AccountError, add_user

    if role not in ROLES:
        _fail(f"--role must be one of {', '.join(ROLES)}")
    if password_file is not None:
        lines = _password_lines(password_file)
        if not lines:
            _fail(f"the password file {password_file} is empty")
        password = lines[0]
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    store = _open_case(case)
    try:
        user = add_user(store, name, role, password)
    except AccountError as exc:
        _fail(str(exc))
    finally:
        store.close()
    console.print(f"Added {escape(user.name)} ({user.role})")


@user_app.command("list")
def user_list(case: Annotated[Path, typer.Option("--case", help="Case folder.")]) -> None:
    """List the accounts of a case's review app.

    Example: [bold]fieldlab user list --case ~/cases/op-ash[/]
    """
    from fieldlab.web.accounts import list_users

    store = _open_case(case)
    try:
        found = list_users(store)
    finally:
        store.close()
    if not found:
        console.print("No accounts. Add one: fieldlab user add NAME --case CASE --role examiner")
        return
    table = Table(title="Review-app accounts")
    for column in ("Name", "Role", "State", "Created (UTC)"):
        table.add_column(column)
    for user in found:
        table.add_row(escape(user.name), user.role, "disabled" if user.disabled else "active",
                      datetime.fromtimestamp(user.created_at, timezone.utc).strftime("%Y-%m-%d %H:%M"))
    console.print(table)
