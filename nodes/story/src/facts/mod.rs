//! The facts an idea, a screenplay or a regenerate note states, which every stage must keep:
//! who is in the story (a name, a kind such as a robot or a whale, an age, a pronoun, what they
//! wear), when it happens (the time of day), the weather and the place.
//!
//! They are read with plain English rules ([`read`]) and every text backend's cast and scenes
//! are brought in line with them afterwards ([`Facts::apply_cast`], [`Facts::apply_scenes`]):
//! a stated fact wins over a generated one, on the procedural backend and the LLM alike, and
//! what the facts do not speak of is left as it was generated.
//!
//! What is read:
//!
//! - **time of day**: night, midnight → `night`; dawn, sunrise, morning → `dawn`; dusk, sunset,
//!   evening, twilight → `dusk`; noon, midday, afternoon, sunny, daytime → `day`;
//! - **weather**: storm, stormy, thunder, hurricane, gale, tempest → `storm`; rain → `rain`;
//!   snow, blizzard → `snow`; fog, mist → `fog`;
//! - **place**: the first word that names one ([`PLACES`]: sea, ocean, bakery, forest, …), or
//!   the sea for a creature of the sea (a whale, a fish);
//! - **people**: the lead noun phrase (`a shy robot baker`: kind robot, trait shy), a name after
//!   `named` or `called` or written as a name (capitalised, not a common word), an age (`(17)`,
//!   `70s`, `17-year-old`, old, young), the first pronoun after them (`her` → she), and what
//!   they wear (`in a yellow oilskin`, `wearing a red scarf`, or after an age: `LEO (17), soaked
//!   hoodie`). In a screenplay, each speaking character's introduction in the action (their
//!   name in capitals, first written) is read the same way.

mod read;
#[cfg(test)]
mod tests;

pub use read::{read, weather_of};

use crate::fountain::Screenplay;
use crate::model::{Brief, Character, Scene};
use crate::plan::capitalised;

/// A person's pronoun, when the text says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pronoun {
    /// she, her.
    She,
    /// he, him, his.
    He,
}

/// What the text says of one person.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    /// Their name as written (`Old Tom`, `LEO`).
    pub name: Option<String>,
    /// What they are, when not simply a person: `robot`, `whale`.
    pub kind: Option<String>,
    /// Their age: a number (`17`, `70s`) or a word (`old`, `young`).
    pub age: Option<String>,
    /// Their pronoun.
    pub pronoun: Option<Pronoun>,
    /// What they wear, with its article (`a yellow oilskin`).
    pub clothing: Option<String>,
    /// What they are like (`shy`).
    pub traits: Vec<String>,
    /// Their trade (`baker`).
    pub occupation: Option<String>,
}

impl Person {
    /// True when the text says nothing of them.
    pub fn is_empty(&self) -> bool {
        *self == Person::default()
    }

    /// True when `name` is theirs (case and spacing aside).
    pub fn is_named(&self, name: &str) -> bool {
        self.name
            .as_deref()
            .is_some_and(|n| crate::slug(n) == crate::slug(name))
    }
}

/// Everything a text states that the episode must keep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// The people, the lead first.
    pub people: Vec<Person>,
    /// `night`, `dawn`, `dusk` or `day`.
    pub time_of_day: Option<&'static str>,
    /// `storm`, `rain`, `snow` or `fog`.
    pub weather: Option<&'static str>,
    /// Where: a place of [`PLACES`].
    pub place: Option<Place>,
}

/// A place a story can be set, with the scene heading it gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// The words that name it.
    pub words: &'static [&'static str],
    /// Its location in a scene heading.
    pub location: &'static str,
    /// Indoors.
    pub interior: bool,
}

/// The places [`read`] knows, by the words that name them.
pub const PLACES: [Place; 16] = [
    place(&["sea", "ocean", "waves", "deep"], "OPEN SEA", false),
    place(&["bakery", "bakehouse", "baker", "bakers"], "BAKERY", true),
    place(&["forest", "woods", "jungle"], "FOREST", false),
    place(&["lighthouse"], "LIGHTHOUSE", true),
    place(&["harbour", "harbor", "port", "docks"], "HARBOUR", false),
    place(&["beach", "shore", "coast"], "BEACH", false),
    place(&["city", "street", "town"], "CITY STREET", false),
    place(&["kitchen"], "KITCHEN", true),
    place(&["library"], "LIBRARY", true),
    place(&["workshop", "garage", "lab", "laboratory"], "WORKSHOP", true),
    place(&["station", "train"], "TRAIN STATION", true),
    place(&["park", "garden"], "PARK", false),
    place(&["desert", "dunes"], "DESERT", false),
    place(&["mountain", "mountains", "village"], "MOUNTAIN VILLAGE", false),
    place(&["museum", "gallery"], "MUSEUM", true),
    place(&["school", "classroom"], "SCHOOL", true),
];

const fn place(words: &'static [&'static str], location: &'static str, interior: bool) -> Place {
    Place {
        words,
        location,
        interior,
    }
}

impl Facts {
    /// The facts of an episode's brief: its idea's, or its screenplay's (a screenplay that does
    /// not parse states none).
    pub fn of_brief(brief: &Brief) -> Facts {
        match (&brief.idea, &brief.script) {
            (Some(idea), _) => read(idea, None),
            (None, Some(script)) => crate::fountain::parse(script)
                .map(|play| Facts::of_screenplay(&play))
                .unwrap_or_default(),
            (None, None) => Facts::default(),
        }
    }

    /// The facts of a screenplay: each speaking character's introduction (its headings already
    /// say where and when each scene is).
    pub fn of_screenplay(play: &Screenplay) -> Facts {
        read("", Some(play))
    }

    /// The facts as lines for a model's prompt (empty when there are none).
    pub fn prompt_lines(&self) -> String {
        let mut lines = String::new();
        for (i, p) in self.people.iter().enumerate() {
            let mut said: Vec<String> = Vec::new();
            said.extend(p.age.as_ref().map(|a| format!("age {a}")));
            said.extend(p.kind.as_ref().map(|k| format!("a {k}")));
            said.extend(p.occupation.as_ref().map(|o| format!("a {o}")));
            said.extend(p.traits.iter().cloned());
            said.extend(p.pronoun.map(|p| match p {
                Pronoun::She => "she/her".to_owned(),
                Pronoun::He => "he/him".to_owned(),
            }));
            said.extend(p.clothing.as_ref().map(|c| format!("wears {c}")));
            if said.is_empty() {
                continue;
            }
            let who = p
                .name
                .clone()
                .unwrap_or_else(|| if i == 0 { "The lead".into() } else { "Someone".into() });
            lines.push_str(&format!("Fact: {who}: {}.\n", said.join(", ")));
        }
        if let Some(time) = self.time_of_day {
            lines.push_str(&format!("Fact: it happens at {time}.\n"));
        }
        if let Some(weather) = self.weather {
            lines.push_str(&format!("Fact: the weather is {weather}.\n"));
        }
        if let Some(place) = self.place {
            lines.push_str(&format!("Fact: it is set at the {}.\n", place.location.to_lowercase()));
        }
        lines
    }

    /// These facts with `note`'s on top: what the note states replaces what was stated (a
    /// regenerate note's time of day, weather, place; a person it names, or the lead).
    pub fn with_note(mut self, note: Option<&str>) -> Facts {
        let Some(note) = note.filter(|n| !n.trim().is_empty()) else {
            return self;
        };
        let said = read(note, None);
        self.time_of_day = said.time_of_day.or(self.time_of_day);
        self.weather = said.weather.or(self.weather);
        self.place = said.place.or(self.place);
        for person in said.people {
            let at = match &person.name {
                Some(name) => self.people.iter().position(|p| p.is_named(name)),
                None => (!self.people.is_empty()).then_some(0),
            };
            match at {
                Some(at) => merge(&mut self.people[at], person),
                None => self.people.push(person),
            }
        }
        self
    }

    /// The person the text says `character` is: the one named so, else (for the lead, `lead`
    /// true) the unnamed lead.
    pub fn person(&self, name: &str, lead: bool) -> Option<&Person> {
        self.people
            .iter()
            .find(|p| p.is_named(name))
            .or_else(|| self.people.first().filter(|p| lead && p.name.is_none()))
    }

    /// The names the text gives, in order: a cast takes them before any it makes up.
    pub fn names(&self) -> Vec<String> {
        self.people.iter().filter_map(|p| p.name.clone()).collect()
    }

    /// Brings a cast in line with the facts: each stated age, kind, trait and clothing reaches
    /// the character it is stated of: a named person the character of that name, the unnamed
    /// ones (the lead first) the characters no name claims, in order; nothing else changes.
    pub fn apply_cast(&self, cast: &mut [Character]) {
        let mut unnamed = self.people.iter().filter(|p| p.name.is_none());
        for character in cast.iter_mut() {
            let named = self.people.iter().find(|p| p.is_named(&character.name));
            let Some(person) = named.or_else(|| unnamed.next()) else {
                continue;
            };
            let features = &mut character.static_features;
            if let Some(age) = &person.age {
                let said = age_words(age);
                if !features.face.starts_with(&said) {
                    features.face = format!("{said}, {}", strip_age(&features.face));
                }
            }
            if let Some(kind) = &person.kind
                && !features.body.contains(kind.as_str())
            {
                features.body = format!("a {kind}, {}", features.body);
            }
            if let Some(clothing) = &person.clothing {
                character.dynamic_features.clothing.clone_from(clothing);
            }
            for t in &person.traits {
                if !character.personality.contains(t.as_str()) {
                    character.personality = format!("{t}, {}", character.personality);
                }
            }
            if let Some(job) = &person.occupation
                && !character.role.contains(job.as_str())
            {
                character.role = format!("{}, a {job}", character.role);
            }
            if let Some(pronoun) = person.pronoun {
                let said = match pronoun {
                    Pronoun::She => "she/her",
                    Pronoun::He => "he/him",
                };
                // One pronoun: a note's replaces the one before.
                let role = character.role.replace(" (she/her)", "").replace(" (he/him)", "");
                character.role = format!("{role} ({said})");
            }
        }
    }

    /// Where scene `k` is, when the text says where the story is set: the place itself, and
    /// every other scene the place beside it (a story at sea goes to the harbour, not to a
    /// train station). Its location and whether it is indoors.
    pub fn location(&self, k: usize) -> Option<(&'static str, bool)> {
        let place = self.place?;
        Some(match k % 2 {
            0 => (place.location, place.interior),
            _ => neighbour(place),
        })
    }

    /// Brings scenes in line with the facts: the story opens where the text says it is set (the
    /// first scene's place, when it is not there already), the stated time of day in every
    /// scene's time and heading, and the weather in every description.
    pub fn apply_scenes(&self, scenes: &mut [Scene]) {
        if let (Some(place), Some(first)) = (self.place, scenes.first_mut()) {
            let here = first.location.to_lowercase();
            if !place.words.iter().any(|w| here.contains(w)) {
                move_scene(first, place.location, place.interior);
            }
        }
        for scene in scenes {
            if let Some(time) = self.time_of_day {
                scene.time_of_day = time.to_owned();
                let head = scene
                    .slugline
                    .rsplit_once(" - ")
                    .map_or(scene.slugline.as_str(), |(h, _)| h);
                scene.slugline = format!("{head} - {}", time.to_uppercase());
            }
            if let Some(weather) = self.weather
                && !scene.description.to_lowercase().contains(weather)
            {
                let rest = without_weather(&scene.description).to_owned();
                scene.description = format!("{}. {rest}", weather_words(weather));
            }
        }
    }
}

/// Moves `scene` to `location` (upper case, as a heading has it), indoors or out, keeping its
/// time of day.
pub fn move_scene(scene: &mut Scene, location: &str, interior: bool) {
    let time = scene.slugline.rsplit_once(" - ").map_or("DAY", |(_, t)| t).to_owned();
    let setting = if interior { "INT" } else { "EXT" };
    scene.slugline = format!("{setting}. {location} - {time}");
    scene.location = capitalised(&location.to_lowercase());
}

/// `into` with what `from` states on top.
fn merge(into: &mut Person, from: Person) {
    into.name = from.name.or(into.name.take());
    into.kind = from.kind.or(into.kind.take());
    into.age = from.age.or(into.age.take());
    into.pronoun = from.pronoun.or(into.pronoun);
    into.clothing = from.clothing.or(into.clothing.take());
    into.occupation = from.occupation.or(into.occupation.take());
    for t in from.traits {
        if !into.traits.contains(&t) {
            into.traits.push(t);
        }
    }
}

/// How an age reads at the head of a face's description.
fn age_words(age: &str) -> String {
    match age {
        "old" => "old, lined".to_owned(),
        "young" => "young".to_owned(),
        n if n.ends_with('s') => format!("in their {n}"),
        n => format!("{n} years old"),
    }
}

/// A face's description without an age a describer, a feedback or [`age_words`] put first.
fn strip_age(face: &str) -> &str {
    let mut face = face;
    loop {
        let before = face;
        for lead in ["older, lined ", "youthful ", "old, lined, ", "young, "] {
            if let Some(rest) = face.strip_prefix(lead) {
                face = rest;
            }
        }
        // `17 years old, ` and `in their 70s, `.
        if let Some((head, rest)) = face.split_once(", ")
            && (head.ends_with(" years old") || head.starts_with("in their "))
        {
            face = rest;
        }
        if face == before {
            return face;
        }
    }
}

/// A scene's description without the weather opening [`Facts::apply_scenes`] gave it.
pub fn without_weather(description: &str) -> &str {
    for weather in ["storm", "rain", "snow", "fog"] {
        if let Some(rest) = description.strip_prefix(&format!("{}. ", weather_words(weather))) {
            return rest;
        }
    }
    description
}

/// A weather as the opening of a scene's description.
fn weather_words(weather: &str) -> &'static str {
    match weather {
        "storm" => "A storm rages: wind, rain and thunder",
        "rain" => "Rain falls steadily",
        "snow" => "Snow falls",
        _ => "Fog hangs low",
    }
}

/// The place beside `place`: where a story set there moves next.
fn neighbour(place: Place) -> (&'static str, bool) {
    match place.location {
        "OPEN SEA" | "BEACH" | "LIGHTHOUSE" => ("HARBOUR", false),
        "HARBOUR" => ("OPEN SEA", false),
        "BAKERY" | "KITCHEN" | "LIBRARY" | "MUSEUM" | "SCHOOL" | "WORKSHOP" => ("CITY STREET", false),
        "FOREST" | "PARK" => ("FOREST", false),
        other => (other, place.interior),
    }
}
