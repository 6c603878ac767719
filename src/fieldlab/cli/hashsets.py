"""`fieldlab hashset ...`: import, list, look up, trust, export and remove the hash sets scans match against."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from fieldlab.cli.common import HomeOption, ProfileOption, console, fail, open_case
from fieldlab.hashsets.format_names import FORMATS

hashset_app = typer.Typer(help="Import, list and look up the hash sets scans match against.", no_args_is_help=True)


@hashset_app.command("import")
def hashset_import(
    path: Annotated[Path, typer.Argument(help="The hash-set file: VICS JSON, CSV, md5sum/sha1sum/bare list, NSRL RDSv3 or NSRLFile.txt, EnCase .hash, HashKeeper, TSK .kdb, PDQ list; or a folder of vPDQ hash files (known videos).")],
    name: Annotated[Optional[str], typer.Option(help="Name in the library (default: from the file name).")] = None,
    fmt: Annotated[str, typer.Option("--format", help=f"auto, vpdq (a folder) or one of: {', '.join(FORMATS)}.")] = "auto",
    profile: ProfileOption = "uk",
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
    from fieldlab import api
    from fieldlab.hashsets.library import HashSetError

    if fmt != "auto" and fmt not in (*FORMATS, "vpdq", "blocks"):
        fail(f"unknown format {fmt!r}: use auto, vpdq, blocks or one of {', '.join(FORMATS)}")
    try:
        if update:
            if not name:
                fail("--update needs the --name of the set to update")
            report = api.update_hashset(path, name, fmt=fmt, mapping_file=mapping, home=home)
        else:
            report = api.import_hashset(path, name=name, fmt=fmt, profile=profile, mapping_file=mapping, replace=replace,
                                        home=home, known_good=known_good, category=category)
    except (HashSetError, OSError) as exc:
        fail(str(exc))
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
    from datetime import datetime, timezone

    from fieldlab import api
    from fieldlab.hashsets.library import HashSetLibrary

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


@hashset_app.command("show")
@hashset_app.command("info", hidden=True)  # the first spelling
def hashset_show(name: str, home: HomeOption = None) -> None:
    """Everything the library knows about one set: provenance, counts, categories, problems.

    Example: [bold]fieldlab hashset show caid[/]
    """
    from datetime import datetime, timezone

    from fieldlab import api
    from fieldlab.hashsets.library import HashSetLibrary

    sets = {info.name: info for info in api.list_hashsets(home)}
    if name not in sets:
        fail(f"no hash set named {name!r}; known sets: {', '.join(sorted(sets)) or 'none'}")
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
        from fieldlab.hashsets.blocks.store import load_block_sets

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
    from fieldlab.hashsets.library import HashSetLibrary
    from fieldlab.hashsets.matcher import DigestQuery, HashMatcher

    kinds = {64: "pdq"} if pdq else {32: "md5", 40: "sha1", 64: "sha256"}
    queries: list[str] = []
    for value in digests:
        text = value.strip().lower()
        if len(text) not in kinds or any(c not in "0123456789abcdef" for c in text):
            fail(f"{value!r} is not {'a PDQ hash (64 hex digits)' if pdq else 'an MD5, SHA-1 or SHA-256 in hex'}")
        queries.append(text)
    matcher = HashMatcher(HashSetLibrary(home).load())
    if pdq:
        import numpy as np

        if not 0 <= radius <= 64:
            fail("--radius must be between 0 and 64")
        rows = np.frombuffer(bytes.fromhex("".join(queries)), dtype=np.uint8).reshape(-1, 32)
        matches = matcher.match_pdq(rows, radius)
    else:
        matches = matcher.match([DigestQuery(**{kinds[len(text)]: text}) for text in queries])
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
    from fieldlab.hashsets.library import HashSetLibrary

    library = HashSetLibrary(home)
    library.set_trust_order(names)
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
    from fieldlab.hashsets.library import HashSetLibrary

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
    from fieldlab.hashsets.blocks.exchange import export_block_set
    from fieldlab.hashsets.export import export_set
    from fieldlab.hashsets.library import HashSetLibrary

    if fmt not in ("csv", "vics", "blocks"):
        fail("--format must be csv, vics or blocks")
    if fmt == "blocks":
        count = export_block_set(HashSetLibrary(home), name, output)
    else:
        count = export_set(HashSetLibrary(home), name, fmt, target=output)
    console.print(f"{count:,} {'blocks' if fmt == 'blocks' else 'records'} written to {escape(str(output))}")


@hashset_app.command("blocks")
def hashset_blocks(
    folder: Annotated[Path, typer.Argument(help="Folder of reference files (pictures, videos) whose 4 KiB blocks are hashed.")],
    name: Annotated[str, typer.Option(help="Name of the block-hash set in the library.")],
    category: Annotated[Optional[str], typer.Option(help="The category of every file --categories does not list.")] = None,
    categories: Annotated[Optional[Path], typer.Option(help="CSV of 'relative path,category', a file a row.")] = None,
    profile: ProfileOption = "uk",
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
    from fieldlab import api
    from fieldlab.hashsets.library import HashSetError

    try:
        report = api.build_block_set(folder, name, category=category, categories_file=categories, profile=profile,
                                     mapping_file=mapping, replace=replace, home=home, min_entropy=min_entropy)
    except (HashSetError, OSError) as exc:
        fail(str(exc))
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
    from fieldlab.hashsets.library import HashSetLibrary

    HashSetLibrary(home).remove(name)
    console.print(f"Removed {escape(name)}")


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
    from fieldlab.hashsets.library import HashSetLibrary

    store = open_case(case)
    try:
        reports = build_from_case(store, HashSetLibrary(home), name, profile=profile, replace=replace)
    finally:
        store.close()
    for report in reports:
        info = report.info
        console.print(f"Imported [bold]{escape(info.name)}[/]: {info.entries:,} entries, "
                      + ", ".join(f"{n:,} {kind}" for kind, n in info.counts.items()))
