//! Reading facts out of English text: an idea, a note, or a screenplay's action.

use super::{Facts, PLACES, Person, Pronoun};
use crate::fountain::Screenplay;

/// Kinds of beings a story's lead can be, besides a person.
const KINDS: [&str; 56] = [
    "robot", "android", "cyborg", "whale", "dolphin", "shark", "fish", "octopus", "turtle", "penguin", "cat", "kitten",
    "dog", "puppy", "fox", "wolf", "bear", "rabbit", "mouse", "owl", "bird", "crow", "horse", "dragon", "ghost",
    "witch", "wizard", "alien", "mermaid", "troll", "giant", "elf", "vampire", "unicorn", "camel", "elephant", "lion",
    "tiger", "monkey", "pig", "cow", "goat", "sheep", "lamb", "donkey", "deer", "squirrel", "hedgehog", "badger",
    "duck", "goose", "swan", "parrot", "hen", "chicken", "frog",
];

/// Creatures of the sea: a story about one is set at sea unless it says where.
const SEA_KINDS: [&str; 7] = ["whale", "dolphin", "shark", "fish", "octopus", "turtle", "mermaid"];

/// Trades a lead can have.
const OCCUPATIONS: [&str; 24] = [
    "baker",
    "keeper",
    "detective",
    "pilot",
    "teacher",
    "doctor",
    "nurse",
    "sailor",
    "fisherman",
    "farmer",
    "painter",
    "musician",
    "chef",
    "cook",
    "soldier",
    "thief",
    "knight",
    "princess",
    "prince",
    "queen",
    "king",
    "student",
    "scientist",
    "inventor",
];

/// Words that describe what someone is like.
const TRAITS: [&str; 36] = [
    "shy",
    "brave",
    "grumpy",
    "lonely",
    "curious",
    "clumsy",
    "kind",
    "proud",
    "anxious",
    "cheerful",
    "stubborn",
    "gentle",
    "fearless",
    "nervous",
    "quiet",
    "bold",
    "timid",
    "cunning",
    "wise",
    "reckless",
    "tired",
    "sleepy",
    "lazy",
    "happy",
    "sad",
    "angry",
    "hungry",
    "greedy",
    "clever",
    "loyal",
    "jealous",
    "playful",
    "fierce",
    "friendly",
    "mischievous",
    "restless",
];

/// Words for clothes: a phrase that ends in one is what someone wears.
const GARMENTS: [&str; 39] = [
    "coat",
    "raincoat",
    "oilskin",
    "hoodie",
    "dress",
    "jacket",
    "scarf",
    "hat",
    "jumper",
    "sweater",
    "overalls",
    "uniform",
    "cloak",
    "suit",
    "boots",
    "apron",
    "shirt",
    "cardigan",
    "kimono",
    "gown",
    "robe",
    "cap",
    "vest",
    "trousers",
    "jeans",
    "parka",
    "cape",
    "poncho",
    "skirt",
    "shawl",
    "jumpsuit",
    "tie",
    "bowtie",
    "tunic",
    "armour",
    "armor",
    "pyjamas",
    "pajamas",
    "tracksuit",
];

/// Capitalised words that are not names.
const NOT_NAMES: [&str; 48] = [
    "A", "An", "The", "When", "After", "Before", "In", "On", "At", "Two", "Three", "One", "Some", "Every", "His",
    "Her", "Their", "Its", "It", "He", "She", "They", "We", "I", "You", "This", "That", "There", "Then", "But", "And",
    "Or", "As", "While", "During", "Make", "Set", "Give", "Add", "Have", "Let", "With", "From", "Of", "For", "To",
    "By", "Once",
];

/// One word of a text: as written, and lower-case without punctuation.
struct Word<'a> {
    raw: &'a str,
    plain: String,
    /// A sentence ends before it.
    starts_sentence: bool,
}

fn words(text: &str) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    let mut starts = true;
    for raw in text.split_whitespace() {
        let plain: String = raw
            .trim_matches(|c: char| !c.is_alphanumeric())
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '\'')
            .collect::<String>()
            .to_lowercase();
        out.push(Word {
            raw,
            plain,
            starts_sentence: starts,
        });
        starts = raw.ends_with(['.', '!', '?', ':', ';']);
    }
    out
}

/// The facts `text` states; `screenplay`, when the text is one, adds each speaking character's
/// introduction and each scene's weather.
pub fn read(text: &str, screenplay: Option<&Screenplay>) -> Facts {
    let w = words(text);
    let mut facts = Facts {
        time_of_day: time_of_day(&w),
        weather: weather(&w),
        place: w
            .iter()
            .find_map(|x| PLACES.iter().find(|p| p.words.contains(&x.plain.as_str())).copied()),
        people: Vec::new(),
    };
    match screenplay {
        Some(play) => {
            facts.time_of_day = None;
            facts.place = None;
            for character in &play.characters {
                let person = introduction(play, &character.name);
                facts.people.push(Person {
                    name: Some(character.name.clone()),
                    ..person
                });
            }
        }
        None => {
            facts.people = people(&w);
            if facts.place.is_none()
                && facts
                    .people
                    .iter()
                    .any(|p| p.kind.as_deref().is_some_and(|k| SEA_KINDS.contains(&k)))
            {
                facts.place = PLACES.first().copied();
            }
        }
    }
    facts
}

/// The weather `text` names (`storm`, `rain`, `snow` or `fog`), if any: a storm over rain
/// over snow over fog when it names several.
pub fn weather_of(text: &str) -> Option<&'static str> {
    weather(&words(text))
}

fn weather(w: &[Word<'_>]) -> Option<&'static str> {
    let has = |any: &[&str]| w.iter().any(|x| any.contains(&x.plain.as_str()));
    if has(&[
        "storm",
        "stormy",
        "thunder",
        "thunderstorm",
        "hurricane",
        "gale",
        "tempest",
        "lightning",
    ]) {
        Some("storm")
    } else if has(&["rain", "rainy", "raining", "downpour", "drizzle"]) {
        Some("rain")
    } else if has(&["snow", "snowy", "snowing", "blizzard", "snowfall", "snowstorm"]) {
        Some("snow")
    } else if has(&["fog", "foggy", "mist", "misty", "haze"]) {
        Some("fog")
    } else {
        None
    }
}

fn time_of_day(w: &[Word<'_>]) -> Option<&'static str> {
    w.iter().find_map(|x| match x.plain.as_str() {
        "night" | "midnight" | "nighttime" | "tonight" | "moonlit" | "moonlight" => Some("night"),
        "dawn" | "sunrise" | "daybreak" | "morning" => Some("dawn"),
        "dusk" | "sunset" | "evening" | "twilight" => Some("dusk"),
        "noon" | "midday" | "afternoon" | "sunny" | "daytime" => Some("day"),
        _ => None,
    })
}

/// The people an idea or a note speaks of: the lead noun phrase, and each name.
fn people(w: &[Word<'_>]) -> Vec<Person> {
    // The lead noun phrase from the first `a`/`an`/`the`; a later `a`/`an` phrase that names a
    // kind of being (`and an old whale named Tom`) is another person (`the robot` is one already
    // met).
    let articles: Vec<usize> = (0..w.len())
        .filter(|&i| matches!(w[i].plain.as_str(), "a" | "an" | "the"))
        .collect();
    let mut lead = articles.first().map(|&at| noun_phrase(w, at)).unwrap_or_default();
    let mut beings: Vec<(usize, Person)> = articles
        .iter()
        .skip(1)
        .filter(|&&at| w[at].plain != "the")
        .map(|&at| (at, noun_phrase(w, at)))
        .filter(|(_, p)| p.kind.is_some())
        .collect();
    lead.pronoun = pronoun(w);
    if lead.age.is_none() {
        // `a 17-year-old`, `aged 70`.
        lead.age = w.iter().enumerate().find_map(|(i, x)| {
            let stated = x.plain.ends_with("-year-old") || (i > 0 && matches!(w[i - 1].plain.as_str(), "aged" | "age"));
            stated.then(|| number_age(&x.plain)).flatten()
        });
    }
    if lead.age.is_none() {
        // A note's comparative anywhere: `make Mara older`.
        lead.age = w.iter().find_map(|x| match x.plain.as_str() {
            "older" => Some("old".to_owned()),
            "younger" => Some("young".to_owned()),
            _ => None,
        });
    }
    let names = names(w);
    // A lead phrase that describes no being (`Tobias should wear a blue scarf`) is the first
    // name's.
    if lead.kind.is_none() && lead.occupation.is_none() && lead.name.is_none() && !names.is_empty() {
        lead.name = Some(names[0].1.clone());
    }
    beings.insert(0, (articles.first().copied().unwrap_or(0), lead));
    let described = |p: &Person| p.name.is_none() && (p.kind.is_some() || p.occupation.is_some());
    for (at, name) in &names {
        // `Priya, a 12-year-old inventor`: the phrase right after the name describes it.
        let last = at + name.split_whitespace().count() - 1;
        // `Ziggy the alien` too.
        let apposed = w[last].raw.ends_with(',') || w.get(last + 1).is_some_and(|x| x.plain == "the");
        if apposed && let Some((_, owner)) = beings.iter_mut().find(|(start, p)| *start == last + 1 && described(p)) {
            owner.name = Some(name.clone());
            continue;
        }
        // `… named Tom` names the nearest being before it.
        let named = *at > 0 && matches!(w[at - 1].plain.as_str(), "named" | "called");
        let owner = beings.iter_mut().rev().find(|(start, p)| *start < *at && described(p));
        if named && let Some((_, owner)) = owner {
            owner.name = Some(name.clone());
        }
    }
    let mut people: Vec<Person> = beings.into_iter().map(|(_, p)| p).collect();
    for (at, name) in &names {
        // `Maya's dog Biscuit`: a kind right before a name is the name's.
        let kind = at
            .checked_sub(1)
            .and_then(|i| KINDS.iter().find(|k| **k == w[i].plain))
            .map(|k| (*k).to_owned());
        match people.iter_mut().find(|p| p.name.as_deref() == Some(name)) {
            Some(known) => known.kind = known.kind.take().or(kind),
            None => people.push(Person {
                name: Some(name.clone()),
                kind,
                ..Person::default()
            }),
        }
    }
    // What is worn belongs to the last name before it, else to the lead.
    for (at, worn) in clothing_all(w) {
        let owner = names
            .iter()
            .rev()
            .find(|(i, _)| *i < at)
            .and_then(|(_, name)| people.iter().position(|p| p.name.as_deref() == Some(name)))
            .unwrap_or(0);
        people[owner].clothing.get_or_insert(worn);
    }
    if people[0].is_empty() && people.len() > 1 {
        // A text of names only: its first name leads.
        people.remove(0);
    }
    people.retain(|p| !p.is_empty());
    people
}

/// The being a noun phrase from the article at `at` describes: its kind, trade, traits and age
/// (`a shy robot baker`, `an old whale`), up to the first word that ends the phrase.
fn noun_phrase(w: &[Word<'_>], at: usize) -> Person {
    let mut person = Person::default();
    for x in w[at + 1..].iter().take(5) {
        let word = x.plain.as_str();
        // Another article starts another phrase: `a keeper befriends a whale` is not a whale.
        if matches!(
            word,
            "in" | "who" | "that" | "named" | "called" | "with" | "on" | "at" | "of" | "and" | "a" | "an" | "the"
        ) {
            break;
        }
        if KINDS.contains(&word) {
            person.kind.get_or_insert_with(|| word.to_owned());
        } else if OCCUPATIONS.contains(&word) {
            person.occupation.get_or_insert_with(|| word.to_owned());
        } else if TRAITS.contains(&word) {
            person.traits.push(word.to_owned());
        } else if let Some(age) = age_word(word) {
            person.age.get_or_insert(age);
        }
        if x.raw.ends_with([',', '.', ';', ':']) {
            break;
        }
    }
    person
}

/// Names: after `named`/`called`, or capitalised words that are not common ones (runs of them
/// make one name: `Old Tom`).
fn names(w: &[Word<'_>]) -> Vec<(usize, String)> {
    let mut names: Vec<(usize, String)> = Vec::new();
    let mut i = 0;
    while i < w.len() {
        let after_named = i > 0 && matches!(w[i - 1].plain.as_str(), "named" | "called");
        // `in New York`, `to Paris`: a place, not a person.
        let after_place_word = i > 0
            && matches!(
                w[i - 1].plain.as_str(),
                "in" | "at" | "to" | "from" | "near" | "of" | "across" | "through" | "into" | "over" | "on"
            );
        if after_place_word && !after_named {
            // The whole capitalised run: `New York`.
            i += 1;
            while i < w.len() && w[i].raw.chars().next().is_some_and(char::is_uppercase) && !w[i].starts_sentence {
                i += 1;
            }
            continue;
        }
        let capital = |x: &Word<'_>| {
            let bare = x.raw.trim_matches(|c: char| !c.is_alphanumeric());
            bare.chars().next().is_some_and(char::is_uppercase)
                && bare.chars().skip(1).any(char::is_lowercase)
                && !NOT_NAMES.contains(&bare)
        };
        if capital(&w[i]) && (after_named || !w[i].starts_sentence || i == 0) {
            let mut run = vec![w[i].raw.trim_matches(|c: char| !c.is_alphanumeric())];
            let mut j = i + 1;
            while j < w.len() && capital(&w[j]) && !w[j - 1].raw.ends_with([',', '.', ';', ':']) {
                run.push(w[j].raw.trim_matches(|c: char| !c.is_alphanumeric()));
                j += 1;
            }
            let name = run.join(" ");
            let name = name.trim_end_matches("'s").to_owned();
            if !names.iter().any(|(_, n)| *n == name) && !KINDS.contains(&name.to_lowercase().as_str()) {
                names.push((i, name));
            }
            i = j;
        } else {
            i += 1;
        }
    }
    names
}

fn pronoun(w: &[Word<'_>]) -> Option<Pronoun> {
    w.iter().find_map(|x| match x.plain.as_str() {
        "she" | "her" | "hers" | "herself" => Some(Pronoun::She),
        "he" | "him" | "his" | "himself" => Some(Pronoun::He),
        _ => None,
    })
}

fn age_word(word: &str) -> Option<String> {
    match word {
        "old" | "elderly" | "aging" | "ageing" | "aged" | "older" => Some("old".to_owned()),
        "young" | "teenage" | "teen" | "little" | "child" | "kid" | "younger" => Some("young".to_owned()),
        _ => number_age(word),
    }
}

/// `17`, `70s` or `17-year-old` as an age.
fn number_age(word: &str) -> Option<String> {
    let word = word.trim_end_matches("-year-old").trim_end_matches("-years-old");
    let digits = word.trim_end_matches('s');
    let plausible = !digits.is_empty()
        && digits.len() <= 3
        && digits.chars().all(|c| c.is_ascii_digit())
        && digits.parse::<u32>().is_ok_and(|n| (1..=120).contains(&n));
    plausible.then(|| word.to_owned())
}

/// Everything worn in the text: `in a …`, `wearing a …`, `wear a …` up to a garment word, with
/// the index of the word that says so.
fn clothing_all(w: &[Word<'_>]) -> Vec<(usize, String)> {
    let n = w.len();
    let mut worn = Vec::new();
    for i in 0..n {
        if !matches!(w[i].plain.as_str(), "in" | "wear" | "wearing" | "wears" | "dressed") {
            continue;
        }
        let start = if w.get(i + 1).is_some_and(|x| x.plain == "in") {
            i + 2
        } else {
            i + 1
        };
        if let Some(end) = (start..n.min(start + 5)).find(|&j| GARMENTS.contains(&w[j].plain.as_str())) {
            worn.push((i, phrase(&w[start..=end])));
        }
    }
    worn
}

/// The first thing worn in the text.
fn clothing(w: &[Word<'_>]) -> Option<String> {
    clothing_all(w).into_iter().next().map(|(_, worn)| worn)
}

/// Words as a clothing phrase with an article.
fn phrase(w: &[Word<'_>]) -> String {
    let text: Vec<&str> = w
        .iter()
        .map(|x| x.raw.trim_matches(|c: char| !c.is_alphanumeric() && c != '-'))
        .collect();
    let text = text.join(" ").to_lowercase();
    match w.first().map(|x| x.plain.as_str()) {
        Some("a" | "an" | "the" | "his" | "her" | "their") => text,
        _ if text.ends_with('s') && !text.ends_with("dress") => text,
        _ => format!("a {text}"),
    }
}

/// What a screenplay's action says of `name` where it first writes it in capitals: `LEO (17),
/// soaked hoodie, …` or `AGNES in a yellow oilskin`; the first pronoun after it in that
/// paragraph.
fn introduction(play: &Screenplay, name: &str) -> Person {
    let caps = name.to_uppercase();
    for paragraph in play.scenes.iter().flat_map(|s| &s.action) {
        // The name as a word of its own: not `CLEO` for `LEO`.
        let alone = |at: usize| {
            let before = paragraph[..at].chars().next_back();
            let after = paragraph[at + caps.len()..].chars().next();
            !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
        };
        let Some(at) = paragraph.match_indices(&caps).map(|(at, _)| at).find(|&at| alone(at)) else {
            continue;
        };
        let rest = &paragraph[at + caps.len()..];
        // What follows the name, up to the next name in capitals (another character's).
        let w: Vec<Word<'_>> = words(rest)
            .into_iter()
            .take_while(|x| {
                let bare = x.raw.trim_matches(|c: char| !c.is_alphanumeric());
                !(bare.chars().filter(char::is_ascii_alphabetic).count() >= 2
                    && bare.chars().all(|c| !c.is_lowercase())
                    && bare.chars().any(char::is_alphabetic))
            })
            .collect();
        let mut person = Person::default();
        let mut next = 0;
        if let Some(first) = w.first()
            && first.raw.starts_with('(')
        {
            person.age = number_age(&first.plain);
            next = 1;
        }
        // `, soaked hoodie,` right after the age.
        if person.age.is_some() && w.first().is_some_and(|x| x.raw.ends_with(',')) {
            // `, in a pink uniform` as well as `, soaked hoodie`.
            if w.get(next)
                .is_some_and(|x| matches!(x.plain.as_str(), "in" | "wearing"))
            {
                next += 1;
            }
            let end = (next..w.len().min(next + 5)).find(|&j| GARMENTS.contains(&w[j].plain.as_str()));
            if let Some(end) = end {
                person.clothing = Some(phrase(&w[next..=end]));
            }
        }
        let sentence_end = w
            .iter()
            .position(|x| x.raw.ends_with(['.', '!', '?']))
            .unwrap_or(w.len());
        if person.clothing.is_none() {
            person.clothing = clothing(&w[..(sentence_end + 1).min(w.len())]);
        }
        for x in w.iter().take(sentence_end + 1) {
            if let Some(kind) = KINDS.iter().find(|k| **k == x.plain) {
                person.kind = Some((*kind).to_owned());
                break;
            }
        }
        person.pronoun = pronoun(&w);
        return person;
    }
    Person::default()
}
