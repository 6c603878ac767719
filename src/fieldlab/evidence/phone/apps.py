"""Which app put a file where it is, and what kind of place that is, from its path on the device.

Phones keep each app's media in the app's own folders (Android package names
such as ``com.whatsapp``, iOS bundle ids in backup domains such as
``AppDomainGroup-group.net.whatsapp.WhatsApp.shared``, or the folders an app
makes on shared storage such as ``WhatsApp/Media``).  An examiner reads "sent
by WhatsApp" or "in the gallery's trash" faster than a path, and a
prosecutor's "made"/"possessed" questions turn on it.  The rules work on the
path of any exhibit (a phone extraction, a phone backup found on a laptop, a
tar inside a zip) because they only look at path components.

The tables are public knowledge (package names and bundle ids as the app
stores publish them); an unknown app gets no label rather than a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# (app, pattern over the lower-cased, '/'-separated path); the first matching rule names the app
_APP_RULES: tuple[tuple[str, str], ...] = (
    ("WhatsApp", r"com\.whatsapp|net\.whatsapp\.whatsapp|whatsapp\.shared|/whatsapp/"),
    ("Telegram", r"org\.telegram\.messenger|ph\.telegra\.telegraph|/telegram/"),
    ("Signal", r"org\.thoughtcrime\.securesms|org\.whispersystems\.signal"),
    ("Snapchat", r"com\.snapchat\.android|com\.toyopagroup\.picaboo"),
    ("Instagram", r"com\.instagram\.android|com\.burbn\.instagram"),
    ("Kik", r"kik\.android|com\.kik\.chat|/kik/"),
    ("Discord", r"com\.discord|com\.hammerandchisel\.discord"),
    ("Facebook Messenger", r"com\.facebook\.orca|com\.facebook\.messenger"),
    ("Facebook", r"com\.facebook\.katana|com\.facebook\.facebook"),
    ("Skype", r"com\.skype\.raider|com\.skype\.skype"),
    ("Viber", r"com\.viber\.voip|com\.viber(?:/|$)"),
    ("WeChat", r"com\.tencent\.mm|com\.tencent\.xin"),
    ("Wickr", r"com\.mywickr|com\.wickr"),
    ("Threema", r"ch\.threema"),
    ("Element", r"im\.vector"),
    ("Session", r"network\.loki\.messenger"),
    ("Teleguard", r"ch\.swisscows\.messenger"),
    ("TikTok", r"com\.zhiliaoapp\.musically|com\.ss\.android\.ugc"),
    ("Twitter/X", r"com\.twitter\.android|com\.atebits\.tweetie2"),
    ("Reddit", r"com\.reddit\.frontpage"),
    ("Chrome", r"com\.android\.chrome|com\.google\.chrome\.ios"),
    ("Firefox", r"org\.mozilla\.(?:firefox|fennec|ios)"),
    ("Samsung Internet", r"com\.sec\.android\.app\.sbrowser"),
    ("Safari", r"com\.apple\.mobilesafari|com\.apple\.safari"),
    ("Tor Browser", r"org\.torproject\.torbrowser|org\.torproject\.android"),
    ("Google Photos", r"com\.google\.android\.apps\.photos"),
    ("Samsung Gallery", r"com\.sec\.android\.gallery3d"),
    ("Google Drive", r"com\.google\.android\.apps\.docs|com\.google\.drive"),
    ("Dropbox", r"com\.dropbox|/dropbox/"),
    ("MEGA", r"mega\.privacy\.android|mega\.ios|/mega downloads/|/mega/"),
    ("OneDrive", r"com\.microsoft\.skydrive|/onedrive/"),
    ("Photos (iOS)", r"/camerarolldomain/|/private/var/mobile/media/(?:dcim|photodata)/|/mobile/media/(?:dcim|photodata)/"),
    # vault and "calculator" apps: they hide pictures behind a decoy; names here are the best known ones
    ("Vault app", r"com\.netqin\.ps|com\.kii\.safe|com\.domobile\.applock|com\.calculator\.vault|com\.hld\.anzenbokusu"
                  r"|com\.flatfish\.cal\.privacy|com\.lock\.photo|com\.smartanime\.calculatorvault|com\.vaultapps"
                  r"|com\.theronrogers\.vaultyfree|com\.enchantedcloud\.photovault|com\.redphx\.photovault"
                  r"|com\.keepsafe|com\.privatealbum|com\.ipaulpro\.calculatorhide|/\.calcvault|/\.vault|/vault/"
                  r"|/\.hide(?:/|$)|/\.private(?:/|$)|calculator.{0,20}(?:vault|lock|hide)|(?:vault|hide).{0,20}calculator"),
)
_PLACE_RULES: tuple[tuple[str, str], ...] = (
    ("trash", r"/\.trash(?:es)?(?:-\d+)?/|/\.trashed-|/\.recycle|/recycle ?bin/|/\$recycle\.bin/|/recently deleted/"
              r"|/\.trash/|/trash/|/\.deleted/|/\.gs_fs0/"),
    ("thumbnails", r"/\.thumbnails/|/thumbnails/|/photodata/thumbnails/|/\.thumbdata|/thumbcache_|/thumbs\.db"),
    ("screenshots", r"/screenshots?/|/screen ?recordings?/"),
    ("camera", r"/dcim/(?:camera|\d{3}[a-z_]{5}|100andro)/|/dcim/[^/]+\.(?:jpe?g|heic|mp4|mov|png|dng)$"),
    ("sent", r"/sent/"),
    ("downloads", r"/downloads?/"),
    ("cache", r"/cache/|/caches/|/app_webview/|/cache_data/|/tmp/"),
)
_APPS = [(app, re.compile(pattern)) for app, pattern in _APP_RULES]
_PLACES = [(place, re.compile(pattern)) for place, pattern in _PLACE_RULES]
# one pass rules most paths out (a laptop's million files name no app): the ordered rules run only on the rest
_ANY_APP = re.compile("|".join(f"(?:{pattern})" for _, pattern in _APP_RULES))
_ANY_PLACE = re.compile("|".join(f"(?:{pattern})" for _, pattern in _PLACE_RULES))
MAX_PATH = 4096  # longer paths are judged on their tail: the part that names the app and folder


@dataclass(frozen=True)
class Placement:
    app: str | None
    place: str | None


def placement(path: str) -> Placement:
    """The app and kind of place for a path (any separators, any case); None for either when nothing says."""
    lowered = "/" + path[-MAX_PATH:].replace("\\", "/").replace(" › ", "/").lower().lstrip("/")
    app = place = None
    if _ANY_APP.search(lowered):
        app = next(name for name, pattern in _APPS if pattern.search(lowered))
    if _ANY_PLACE.search(lowered):
        place = next(name for name, pattern in _PLACES if pattern.search(lowered))
    return Placement(app, place)
