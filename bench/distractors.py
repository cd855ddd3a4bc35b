"""Made-up claims for the matching benchmark: the same frames as real ones, in five languages.

"Country A sends N things to country B", told in English, Russian, Ukrainian, German and French,
so that every distractor is built like the claims the benchmark looks for and competes with them
on language, frame and numbers; only the entity, the object or the number tells them apart.
"""

import random

# Each country, one a line: English; Russian subject and destination; Ukrainian, German and
# French the same.
_COUNTRIES = """
Poland|Польша|в Польшу|Польща|до Польщі|Polen|nach Polen|La Pologne|en Pologne
Austria|Австрия|в Австрию|Австрія|до Австрії|Österreich|nach Österreich|L'Autriche|en Autriche
France|Франция|во Францию|Франція|до Франції|Frankreich|nach Frankreich|La France|en France
Italy|Италия|в Италию|Італія|до Італії|Italien|nach Italien|L'Italie|en Italie
Spain|Испания|в Испанию|Іспанія|до Іспанії|Spanien|nach Spanien|L'Espagne|en Espagne
Turkey|Турция|в Турцию|Туреччина|до Туреччини|Die Türkei|in die Türkei|La Turquie|en Turquie
Romania|Румыния|в Румынию|Румунія|до Румунії|Rumänien|nach Rumänien|La Roumanie|en Roumanie
Hungary|Венгрия|в Венгрию|Угорщина|до Угорщини|Ungarn|nach Ungarn|La Hongrie|en Hongrie
Georgia|Грузия|в Грузию|Грузія|до Грузії|Georgien|nach Georgien|La Géorgie|en Géorgie
Japan|Япония|в Японию|Японія|до Японії|Japan|nach Japan|Le Japon|au Japon
India|Индия|в Индию|Індія|до Індії|Indien|nach Indien|L'Inde|en Inde
Iran|Иран|в Иран|Іран|до Ірану|Der Iran|in den Iran|L'Iran|en Iran
Serbia|Сербия|в Сербию|Сербія|до Сербії|Serbien|nach Serbien|La Serbie|en Serbie
Canada|Канада|в Канаду|Канада|до Канади|Kanada|nach Kanada|Le Canada|au Canada
Sweden|Швеция|в Швецию|Швеція|до Швеції|Schweden|nach Schweden|La Suède|en Suède
Egypt|Египет|в Египет|Єгипет|до Єгипту|Ägypten|nach Ägypten|L'Égypte|en Égypte
"""
COUNTRIES = [tuple(f.strip() for f in line.split("|")) for line in _COUNTRIES.strip().splitlines()]
# Each thing: (en, ru, uk, de, fr), in the form that follows a number.
THINGS = [
    ("soldiers", "солдат", "солдатів", "Soldaten", "soldats"),
    ("tanks", "танков", "танків", "Panzer", "chars"),
    ("doctors", "врачей", "лікарів", "Ärzte", "médecins"),
    ("tonnes of grain", "тонн зерна", "тонн зерна", "Tonnen Getreide", "tonnes de céréales"),
    ("drones", "беспилотников", "безпілотників", "Drohnen", "drones"),
    ("refugees", "беженцев", "біженців", "Flüchtlinge", "réfugiés"),
    ("engineers", "инженеров", "інженерів", "Ingenieure", "ingénieurs"),
    ("buses", "автобусов", "автобусів", "Busse", "autobus"),
    (
        "artillery shells",
        "артиллерийских снарядов",
        "артилерійських снарядів",
        "Artilleriegranaten",
        "obus",
    ),
    ("police officers", "полицейских", "поліцейських", "Polizisten", "policiers"),
]
TEMPLATES = {
    "en": "{a} will send {n} {thing} to {b_en}",
    "ru": "{a} отправит {n} {thing} {b}",
    "uk": "{a} відправить {n} {thing} {b}",
    "de": "{a} schickt {n} {thing} {b}",
    "fr": "{a} va envoyer {n} {thing} {b}",
}
LANGUAGES = list(TEMPLATES)
NUMBERS = [20, 50, 150, 300, 400, 600, 800, 1200, 2500, 4000, 7000, 15000, 25000, 40000, 70000]


def distractors(count: int, seed: int = 7) -> list[str]:
    """`count` distinct made-up claims, the five languages in turn."""
    rng = random.Random(seed)
    made: dict[str, None] = {}
    while len(made) < count:
        language = LANGUAGES[len(made) % len(LANGUAGES)]
        column = LANGUAGES.index(language)
        a, b = rng.sample(COUNTRIES, 2)
        thing = rng.choice(THINGS)[column]
        subject = a[0] if language == "en" else a[2 * column - 1]
        destination = b[2 * column] if language != "en" else ""
        text = TEMPLATES[language].format(
            a=subject, n=rng.choice(NUMBERS), thing=thing, b=destination, b_en=b[0]
        )
        made.setdefault(text)
    return list(made)
