"""Everything the page says, in Norwegian (the default) and English: one table, no logic."""

from __future__ import annotations

from typing import Final, Literal

Language = Literal["nb", "en"]
LANGUAGES: Final[tuple[Language, ...]] = ("nb", "en")

TEXT: Final[dict[str, dict[Language, str]]] = {
    "title": {"nb": "Overføring fra Moment", "en": "Transfers from Moment"},
    "open_title": {"nb": "Åpne din side", "en": "Open your page"},
    "open_lead": {
        "nb": "Lenken virker én gang. Trykk på knappen for å åpne siden; du holdes innlogget en halvtime.",
        "en": "The link works once. Press the button to open the page; you stay signed in for half an hour.",
    },
    "open_button": {"nb": "Åpne siden", "en": "Open the page"},
    "expired_title": {"nb": "Lenken virker ikke", "en": "The link does not work"},
    "expired_lead": {
        "nb": "Lenken er brukt, utløpt eller feil, eller økten er over. Be om en ny lenke.",
        "en": "The link is used, expired or wrong, or the session is over. Ask for a new link.",
    },
    "connection": {"nb": "Tilkobling", "en": "Connection"},
    "reconnect": {"nb": "Koble til Fiken på nytt", "en": "Reconnect to Fiken"},
    "transferred": {"nb": "Hva som overføres", "en": "What is transferred"},
    "types_all": {
        "nb": "Kunder, prosjekter og fakturaer (med kreditnotaer), fra tilkoblingen av.",
        "en": "Customers, projects and invoices (with credit notes), from the connection on.",
    },
    "types_fixed": {
        "nb": "Valg av datatyper og startdato kommer; i dag overføres alt.",
        "en": "Choosing data types and a cutover date is coming; today everything is transferred.",
    },
    "emails": {"nb": "Varsler på e-post", "en": "E-mail notifications"},
    "emails_help": {"nb": "Én adresse per linje.", "en": "One address per line."},
    "save": {"nb": "Lagre", "en": "Save"},
    "saved": {"nb": "Lagret.", "en": "Saved."},
    "queued": {"nb": "Sendt på nytt: overføres om litt.", "en": "Sent again: transferred shortly."},
    "recent": {"nb": "Siste overføringer", "en": "Latest transfers"},
    "none": {"nb": "Ingen overføringer ennå.", "en": "No transfers yet."},
    "when": {"nb": "Når", "en": "When"},
    "record": {"nb": "Post", "en": "Record"},
    "outcome": {"nb": "Resultat", "en": "Outcome"},
    "remedy": {"nb": "Hva nå", "en": "What now"},
    "failed": {"nb": "Feilet, kan sendes igjen", "en": "Failed, can be sent again"},
    "send_again": {"nb": "Send igjen", "en": "Send again"},
    "sign_out": {"nb": "Logg ut", "en": "Sign out"},
    "signed_out": {"nb": "Du er logget ut.", "en": "You are signed out."},
    "refused": {"nb": "Ikke lagret", "en": "Not saved"},
    "customer": {"nb": "kunde", "en": "customer"},
    "project": {"nb": "prosjekt", "en": "project"},
    "invoice": {"nb": "faktura", "en": "invoice"},
}

CONNECTION: Final[dict[str, dict[Language, str]]] = {
    "ok": {"nb": "Tilkoblet og i drift.", "en": "Connected and running."},
    "not_connected": {"nb": "Ikke koblet til Fiken ennå.", "en": "Not connected to Fiken yet."},
    "needs_reauth": {
        "nb": "Tilgangen til regnskapet må fornyes. Overføringene venter og sendes når du kobler til igjen.",
        "en": "Access to the accounts must be renewed. Transfers wait and go once you reconnect.",
    },
    "not_configured": {
        "nb": "SpareBank 1 Regnskap er ikke satt opp ferdig; kontakt oss.",
        "en": "SpareBank 1 Regnskap is not fully set up; contact us.",
    },
    "moment_key_missing": {
        "nb": "API-nøkkelen til Moment mangler; kontakt oss.",
        "en": "The Moment API key is missing; contact us.",
    },
    "paused": {"nb": "Satt på pause; overføringene venter.", "en": "Paused; transfers wait."},
    "disabled": {"nb": "Slått av.", "en": "Turned off."},
}
CONNECTION_PROBLEM: Final[dict[Language, str]] = {
    "nb": "Et problem hos regnskapssystemet holder overføringene tilbake; kontakt oss.",
    "en": "A problem at the accounting system holds transfers back; contact us.",
}

# Outcome -> (what happened, what to do): plain words for someone who keeps the books, not for us.
OUTCOME: Final[dict[str, dict[Language, tuple[str, str]]]] = {
    "synced": {"nb": ("Overført", "Ingenting."), "en": ("Transferred", "Nothing.")},
    "unchanged": {"nb": ("Uendret", "Ingenting."), "en": ("Unchanged", "Nothing.")},
    "waiting": {
        "nb": ("Venter", "Prosjektet trenger en startdato i Moment."),
        "en": ("Waiting", "The project needs a start date in Moment."),
    },
    "deleted": {
        "nb": ("Slettet i Moment", "Ingenting slettes i regnskapet; rydd der om det trengs."),
        "en": ("Deleted in Moment", "Nothing is deleted from the accounts; tidy up there if needed."),
    },
    "skipped": {
        "nb": ("Ikke overført", "Moment sier at den ikke skal overføres (utkast eller «Ikke overfør»)."),
        "en": ("Not transferred", 'Moment says not to transfer it (draft or "Do not transfer").'),
    },
    "flagged": {
        "nb": ("Overført, se over", "Les grunnen; en endring etter overføring krever kreditnota i Moment."),
        "en": (
            "Transferred, check it",
            "Read the reason; a change after transfer needs a credit note in Moment.",
        ),
    },
    "failed": {
        "nb": ("Feilet", "Rett det grunnen sier (i Moment eller Fiken), og trykk «Send igjen»."),
        "en": ("Failed", 'Fix what the reason says (in Moment or Fiken), then press "Send again".'),
    },
    "retrying": {
        "nb": ("Prøver igjen", "Ingenting: det forsøkes igjen automatisk."),
        "en": ("Retrying", "Nothing: it is tried again automatically."),
    },
    "parked": {
        "nb": ("Venter på tilkobling", "Se «Tilkobling» over; den sendes når alt er i orden."),
        "en": ("Waiting for the connection", 'See "Connection" above; it goes once that is fixed.'),
    },
}


def say(key: str, language: Language) -> str:
    return TEXT[key][language]
