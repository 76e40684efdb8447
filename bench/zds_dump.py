"""A Zeste de Savoir community of any size, as `manage.py dumpdata` writes it,
for the import benchmark (bench/import.sh); and the same rows as CSV, for the
bare COPY the import is compared with.

    python3 bench/zds_dump.py OUT_DIR [MEMBERS] [BANS] [NOTES]

Writes OUT_DIR/zds.json (the dump, streamed: the generator holds no more
than the file it writes), and OUT_DIR/members.csv, sanctions.csv and
karma_notes.csv: the rows the import writes, for a COPY into memberd's
tables of a fresh database (where the placeholder member has id 1, so that
Django's user pk is member id pk + 1). Deterministic (a fixed seed). The dump's fields and labels
are those of tests/fixtures/zds (made by real Django); every member has the
same real Django hash (pbkdf2_sha256, 1,000 iterations), since hashing is
not what an import measures.
"""

import csv
import json
import os
import random
import sys
from datetime import datetime, timedelta

HASH = "pbkdf2_sha256$1000$T24sPIgz8QExB2pK3tyqKs$0hKDSSH5PxM2hVPwdLUwEb5Hn2mPSC1mKVl8Ec/yN9I="
LABELS = [
    "Lecture seule temporaire (1 jour)",
    "Lecture seule temporaire (15 jours)",
    "Lecture seule illimitée",
    "Levée de la lecture seule",
    "Bannissement temporaire (7 jours)",
    "Bannissement illimité",
    "Levée du bannissement",
]
START = datetime(2015, 1, 1)


def stamp(at):
    return at.strftime("%Y-%m-%dT%H:%M:%S")


def main():
    out = sys.argv[1]
    members = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    bans = int(sys.argv[3]) if len(sys.argv) > 3 else 20_000
    notes = int(sys.argv[4]) if len(sys.argv) > 4 else 50_000
    rng = random.Random(42)
    os.makedirs(out, exist_ok=True)
    staff = list(range(1, 51))
    first = [True]

    with open(os.path.join(out, "zds.json"), "w", encoding="utf-8") as dump, \
            open(os.path.join(out, "members.csv"), "w", newline="", encoding="utf-8") as mcsv, \
            open(os.path.join(out, "sanctions.csv"), "w", newline="", encoding="utf-8") as scsv, \
            open(os.path.join(out, "karma_notes.csv"), "w", newline="", encoding="utf-8") as kcsv:
        members_csv, sanctions_csv, notes_csv = csv.writer(mcsv), csv.writer(scsv), csv.writer(kcsv)

        def write(model, pk, fields):
            dump.write("[\n" if first[0] else ",\n")
            first[0] = False
            json.dump({"model": model, "pk": pk, "fields": fields}, dump, ensure_ascii=False, indent=2)

        for pk, name in enumerate(["staff", "bot", "devs"], start=1):
            write("auth.group", pk, {"name": name, "permissions": []})

        karma = {}
        note_rows = []
        for pk in range(1, notes + 1):
            user = rng.randint(51, members)
            value = rng.choice([-20, -10, -5, 5, 10, 20])
            karma[user] = karma.get(user, 0) + value
            note_rows.append((pk, user, rng.choice(staff), value, START + timedelta(minutes=pk * 7)))

        for pk in range(1, members + 1):
            username = f"Élève {pk}" if pk % 10 == 0 else f"membre{pk}"
            joined = START + timedelta(minutes=pk * 3)
            last = joined + timedelta(days=rng.randint(0, 2000))
            email = f"membre{pk}@bench.example"
            write("auth.user", pk, {
                "password": HASH, "last_login": stamp(last), "is_superuser": pk == 1, "username": username,
                "first_name": "", "last_name": "", "email": email, "is_staff": pk <= 50, "is_active": True,
                "date_joined": stamp(joined), "groups": [1] if pk <= 50 else [], "user_permissions": [],
            })
            members_csv.writerow([f"zds:user:{pk}", username, username.lower(), email, email, HASH, "t",
                                  "t" if pk <= 50 else "f", "t" if pk == 1 else "f", joined.isoformat(),
                                  last.isoformat(), last.isoformat(), "Une biographie.", "", "", "", "f", "t", "t",
                                  "f"])

        for pk in range(1, members + 1):
            last = START + timedelta(minutes=pk * 3, days=rng.randint(0, 2000))
            write("member.profile", pk, {
                "user": pk, "last_ip_address": f"198.51.{pk // 256 % 256}.{pk % 256}", "site": "",
                "show_email": False, "avatar_url": None, "biography": "Une biographie.",
                "karma": karma.get(pk, 0) + (5 if pk % 97 == 0 else 0), "sign": "", "licence": None,
                "show_sign": True, "is_hover_enabled": True, "allow_temp_visual_changes": True,
                "show_markdown_help": True, "email_for_answer": False, "email_for_new_mp": False, "hats": "",
                "can_read": True, "end_ban_read": None, "can_write": True, "end_ban_write": None,
                "last_visit": stamp(last), "username_skeleton": None, "github_token": "",
                "hide_forum_activity": False,
            })

        for pk in range(1, bans + 1):
            user = 51 + (pk * 7919) % (members - 50)
            at = START + timedelta(minutes=pk * 11)
            label = LABELS[pk % len(LABELS)]
            write("member.ban", pk, {"user": user, "moderator": rng.choice(staff), "type": label,
                                     "note": "Raison de la sanction", "pubdate": stamp(at)})
            kind = "ban" if "annissement" in label else "read_only"
            sanctions_csv.writerow([f"zds:ban:{pk}", user + 1, kind, "Raison de la sanction", 86400, 2,
                                    at.isoformat(), "", "", "", "", at.isoformat(), "", "t"])

        for pk, user, moderator, value, at in note_rows:
            write("member.karmanote", pk, {"user": user, "moderator": moderator, "note": "Note de karma",
                                           "karma": value, "pubdate": stamp(at)})
            notes_csv.writerow([f"zds:karmanote:{pk}", user + 1, moderator + 1, "Note de karma", value,
                                at.isoformat()])

        for pk, provider in enumerate(["yopmail.", "mailinator.com", "trashmail."], start=1):
            write("member.bannedemailprovider", pk, {"provider": provider, "moderator": 1,
                                                      "date": stamp(START)})
        dump.write("\n]\n")


if __name__ == "__main__":
    main()
