"""Helplines the portal points to, by language: the UK's and the worldwide ones for everyone,
then services of the countries where each language is mostly spoken.

Only long-standing organisations are listed; every address and number is to be checked
before a launch (README "Languages" lists them). Names stay as each organisation writes
them (with their language, so they are read correctly inside right-to-left text); what
each one does is translated.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Helpline:
    name: str
    lang: str  # the language the name is written in
    url: str
    about: Promise
    phone: str = ""

    @property
    def tel(self) -> str:
        return "tel:" + "".join(c for c in self.phone if c.isdigit() or c == "+")


# For everyone: the service is run from the UK, and StopNCII and Take It Down work anywhere.
EVERYONE = (
    Helpline(
        "Revenge Porn Helpline",
        "en",
        "https://revengepornhelpline.org.uk/",
        _(
            "UK: support for adults whose intimate images were shared, or threatened "
            "to be shared, without consent."
        ),
        phone="0345 6000 459",
    ),
    Helpline(
        "StopNCII.org",
        "en",
        "https://stopncii.org/",
        _(
            "Anywhere: stops intimate images of adults being shared on the platforms "
            "that work with it, run by the charity behind the Revenge Porn Helpline."
        ),
    ),
    Helpline(
        "Report Remove",
        "en",
        "https://www.childline.org.uk/info-advice/bullying-abuse-safety/online-mobile-safety/remove-nude-image-shared-online/",
        _(
            "UK, under 18: Childline and the Internet Watch Foundation help remove a nude "
            "image of you from the internet."
        ),
    ),
    Helpline(
        "Take It Down",
        "en",
        "https://takeitdown.ncmec.org/",
        _("Anywhere: for images taken when you were under 18 (NCMEC)."),
    ),
)

_INDIA = Helpline(
    "National Cyber Crime Reporting Portal",
    "en",
    "https://cybercrime.gov.in/",
    _("India: report cybercrime, including intimate images shared without consent."),
    phone="1930",
)
_PAKISTAN = Helpline(
    "Digital Rights Foundation",
    "en",
    "https://digitalrightsfoundation.pk/",
    _("Pakistan: free cyber harassment helpline."),
    phone="0800 39393",
)

# Services of the countries where each language is mostly spoken.
BY_LANGUAGE: dict[str, tuple[Helpline, ...]] = {
    "en": (
        Helpline(
            "Cyber Civil Rights Initiative",
            "en",
            "https://cybercivilrights.org/ccri-crisis-helpline/",
            _("US: crisis helpline for victims of image-based sexual abuse."),
            phone="+1 844 878 2274",
        ),
        Helpline(
            "eSafety Commissioner",
            "en",
            "https://www.esafety.gov.au/",
            _("Australia: report image-based abuse and get it removed."),
        ),
    ),
    "cy": (
        Helpline(
            "Byw Heb Ofn / Live Fear Free",
            "cy",
            "https://www.gov.wales/live-fear-free",
            _(
                "Wales: free helpline, day and night, for anyone affected by abuse or "
                "sexual violence."
            ),
            phone="0808 80 10 800",
        ),
    ),
    "es": (
        Helpline(
            "INCIBE 017",
            "es",
            "https://www.incibe.es/",
            _("Spain: free and confidential cybersecurity helpline."),
            phone="017",
        ),
        Helpline(
            "AEPD: Canal prioritario",
            "es",
            "https://www.aepd.es/canalprioritario",
            _(
                "Spain: the data protection authority's priority channel for sexual or "
                "violent content published without consent."
            ),
        ),
    ),
    "fr": (
        Helpline(
            "3018 (e-Enfance)",
            "fr",
            "https://e-enfance.org/",
            _("France: free national helpline against online harassment."),
            phone="3018",
        ),
        Helpline(
            "PHAROS",
            "fr",
            "https://www.internet-signalement.gouv.fr/",
            _("France: the government's platform for reporting illegal content online."),
        ),
    ),
    "pt": (
        Helpline(
            "Linha Internet Segura",
            "pt",
            "https://www.internetsegura.pt/",
            _("Portugal: free helpline for problems online."),
            phone="800 21 90 90",
        ),
        Helpline(
            "SaferNet Brasil",
            "pt",
            "https://www.safernet.org.br/",
            _("Brazil: help and reporting for abuse online."),
        ),
    ),
    "pl": (
        Helpline(
            "Dyżurnet.pl",
            "pl",
            "https://dyzurnet.pl/",
            _("Poland: report illegal content online."),
        ),
        Helpline(
            "Telefon Zaufania dla Dzieci i Młodzieży",
            "pl",
            "https://116111.pl/",
            _("Poland, under 18: free helpline for children and young people."),
            phone="116 111",
        ),
    ),
    "ro": (
        Helpline(
            "Ora de Net",
            "ro",
            "https://oradenet.salvaticopiii.ro/",
            _("Romania: online safety helpline and reporting, by Save the Children."),
        ),
    ),
    "uk": (
        Helpline(
            "Ла Страда-Україна",
            "uk",
            "https://la-strada.org.ua/",
            _("Ukraine: national hotline against violence and trafficking."),
            phone="116 123",
        ),
    ),
    "tr": (
        Helpline(
            "ALO 183",
            "tr",
            "https://www.aile.gov.tr/",
            _("Türkiye: free social support line of the Ministry of Family and Social Services."),
            phone="183",
        ),
    ),
    "ur": (_PAKISTAN,),
    "pa": (_INDIA, _PAKISTAN),
    "hi": (_INDIA,),
    "bn": (_INDIA,),
}


def helplines_for(language: str) -> tuple[tuple[Helpline, ...], tuple[Helpline, ...]]:
    """The helplines for everyone, and those of the language's countries."""
    return EVERYONE, BY_LANGUAGE.get(language.split("-")[0], ())
