"""Operations: from intelligence to warrant to charge, in one database a team shares, with public figures.

    from fieldlab.ops.database import OpsDatabase, locate
    from fieldlab.ops.sightings import import_sightings
    from fieldlab.ops.targets import list_targets

    db = OpsDatabase.open(locate(ops_dir=Path("~/ops").expanduser()))    # or locate("postgresql://...")
    import_sightings(db, Path("sightings.csv"), actor="DC 1234")
    for target in list_targets(db):
        print(target.id, target.priority.score, [(r.points, r.text) for r in target.priority.reasons])

Modules follow the cycle: ``schema`` and ``database`` (tables, migrations, audited changes), ``settings`` (what a
force configures), ``areas`` (IP ranges to areas), ``sightings`` (importing monitoring exports), ``targets`` and
``priority`` (grouping and ranking), ``warrant`` (the application draft), ``lifecycle`` (warrant to court, seized
devices, safeguarding, the dashboard), ``public`` (the figures anyone may see), ``cli`` (``fieldlab db``/``ops``).
"""
