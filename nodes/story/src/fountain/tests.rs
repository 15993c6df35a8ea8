//! The parser's tests, on small screenplays and on a realistic sample.

use super::*;

fn ok(text: &str) -> Screenplay {
    match parse(text) {
        Ok(play) => play,
        Err(e) => panic!("parse failed: {e}"),
    }
}

fn fails(text: &str) -> FountainError {
    match parse(text) {
        Ok(play) => panic!("parsed, but should not have: {play:?}"),
        Err(e) => e,
    }
}

fn said(scene: &ScriptScene) -> Vec<(&str, &str, usize)> {
    scene
        .dialogue
        .iter()
        .map(|d| (d.character_id.as_str(), d.text.as_str(), d.line))
        .collect()
}

const THREE: &str = "\
INT. KITCHEN - NIGHT

Ann stirs a pot.

ANN
Dinner's ready.

BOB
(muffled)
Coming!

EXT. GARDEN - DAY

BOB
Too hot out here.

ANN
Then come in.

INT./EXT. CAR - MOVING

They drive in silence.
The radio hums.
";

#[test]
fn three_scenes_with_their_dialogue_and_lines() {
    let play = ok(THREE);
    assert_eq!(play.title, None);
    assert_eq!(play.scenes.len(), 3);
    let [kitchen, garden, car] = &play.scenes[..] else {
        unreachable!()
    };

    assert_eq!(kitchen.id, "scene-1");
    assert_eq!(kitchen.heading, "INT. KITCHEN - NIGHT");
    assert_eq!(kitchen.interior_exterior, Some(IntExt::Interior));
    assert_eq!(kitchen.location, "KITCHEN");
    assert_eq!(kitchen.time_of_day.as_deref(), Some("NIGHT"));
    assert_eq!(kitchen.line, 1);
    assert_eq!(kitchen.action, ["Ann stirs a pot."]);
    assert_eq!(said(kitchen), [("ann", "Dinner's ready.", 5), ("bob", "Coming!", 8)]);
    assert_eq!(kitchen.dialogue[1].parenthetical.as_deref(), Some("muffled"));
    assert_eq!(kitchen.dialogue[0].parenthetical, None);
    assert_eq!(kitchen.character_ids, ["ann", "bob"]);

    assert_eq!(garden.id, "scene-2");
    assert_eq!(garden.line, 12);
    assert_eq!(garden.interior_exterior, Some(IntExt::Exterior));
    assert_eq!(
        said(garden),
        [("bob", "Too hot out here.", 14), ("ann", "Then come in.", 17)]
    );
    assert_eq!(garden.character_ids, ["bob", "ann"]);
    assert!(garden.action.is_empty());

    assert_eq!(car.id, "scene-3");
    assert_eq!(car.line, 20);
    assert_eq!(car.interior_exterior, Some(IntExt::Both));
    assert_eq!(car.location, "CAR");
    assert_eq!(car.time_of_day.as_deref(), Some("MOVING"));
    assert_eq!(car.action, ["They drive in silence.\nThe radio hums."]);
    assert!(car.dialogue.is_empty() && car.character_ids.is_empty());

    let chars: Vec<_> = play
        .characters
        .iter()
        .map(|c| (c.id.as_str(), c.name.as_str(), c.first_line, c.lines))
        .collect();
    assert_eq!(chars, [("ann", "ANN", 5, 2), ("bob", "BOB", 8, 2)]);
}

#[test]
fn forced_headings_and_cues() {
    let play = ok("\
.FLASHBACK

@McCLANE
Yippee.

.SNIPER SCOPE POV - NIGHT

@Hans (O.S.)
(calm)
Now.
");
    let [flashback, scope] = &play.scenes[..] else {
        panic!("{play:?}")
    };
    assert_eq!(flashback.heading, "FLASHBACK");
    assert_eq!(flashback.interior_exterior, None);
    assert_eq!(flashback.location, "FLASHBACK");
    assert_eq!(flashback.time_of_day, None);
    assert_eq!(said(flashback), [("mcclane", "Yippee.", 3)]);
    assert_eq!(flashback.dialogue[0].character_name, "McCLANE");
    assert_eq!(scope.location, "SNIPER SCOPE POV");
    assert_eq!(scope.time_of_day.as_deref(), Some("NIGHT"));
    assert_eq!(said(scope), [("hans", "Now.", 8)]);
    assert_eq!(scope.dialogue[0].character_name, "Hans");
    assert_eq!(scope.dialogue[0].parenthetical.as_deref(), Some("calm"));
}

#[test]
fn forced_prefixed_heading_and_not_forced_ellipsis() {
    let play = ok(".int. attic - dusk #4A#\n\n...and then the lights go out.\n");
    let scene = &play.scenes[0];
    assert_eq!(scene.heading, "int. attic - dusk");
    assert_eq!(scene.interior_exterior, Some(IntExt::Interior));
    assert_eq!(scene.location, "attic");
    assert_eq!(scene.action, ["...and then the lights go out."]);
}

#[test]
fn headings_are_case_insensitive_and_lose_scene_numbers() {
    let play = ok("int. kitchen - night #12#\n\nEST. CITY SKYLINE\n\nI/E TRUCK - DAY\n\nEXT./INT. PORCH - DUSK\n");
    let got: Vec<_> = play
        .scenes
        .iter()
        .map(|s| {
            (
                s.heading.as_str(),
                s.interior_exterior,
                s.location.as_str(),
                s.time_of_day.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("int. kitchen - night", Some(IntExt::Interior), "kitchen", Some("night")),
            ("EST. CITY SKYLINE", Some(IntExt::Establishing), "CITY SKYLINE", None),
            ("I/E TRUCK - DAY", Some(IntExt::Both), "TRUCK", Some("DAY")),
            ("EXT./INT. PORCH - DUSK", Some(IntExt::Both), "PORCH", Some("DUSK")),
        ]
    );
}

#[test]
fn extensions_are_stripped_and_merged_into_one_character() {
    let play = ok("\
INT. OFFICE - DAY

BOB (V.O.)
I never liked this job.

BOB
Morning.

BOB (CONT'D)
(to himself)
Another day.

MRS. DALE (O.S.)
Bob!

MRS DALE
Bob, now!

BOB (cont'd)
Coming.
");
    let chars: Vec<_> = play
        .characters
        .iter()
        .map(|c| (c.id.as_str(), c.name.as_str(), c.first_line, c.lines))
        .collect();
    assert_eq!(chars, [("bob", "BOB", 3, 4), ("mrs-dale", "MRS. DALE", 13, 2)]);
    let scene = &play.scenes[0];
    assert_eq!(scene.character_ids, ["bob", "mrs-dale"]);
    assert!(scene.dialogue.iter().all(|d| !d.character_name.contains('(')));
    assert_eq!(scene.dialogue[3].character_name, "MRS. DALE");
    assert_eq!(scene.dialogue[4].character_name, "MRS DALE");
    assert_eq!(scene.dialogue[4].character_id, "mrs-dale");
}

#[test]
fn character_ids_are_slugs() {
    assert_eq!(character_id("MRS. DALE"), "mrs-dale");
    assert_eq!(character_id("  DR. JEKYLL/HYDE (V.O.)"), "dr-jekyll-hyde");
    assert_eq!(character_id("O'BRIEN"), "o-brien");
    assert_eq!(character_id("R2-D2"), "r2-d2");
    assert_eq!(character_id("JOSÉ"), "josé");
}

#[test]
fn dual_dialogue_is_tolerated() {
    let play = ok("\
INT. BAR - NIGHT

BRICK
Screw retirement.

STEEL ^
Screw retirement.
");
    assert_eq!(
        said(&play.scenes[0]),
        [("brick", "Screw retirement.", 3), ("steel", "Screw retirement.", 6)]
    );
    assert_eq!(play.characters[1].name, "STEEL");
}

#[test]
fn title_page_with_indented_title_and_dropped_prologue() {
    let play = ok("\
Title:
_**BRICK & STEEL**_
_**FULL RETIRED**_
Credit: Written by
Author: Stu Maschwitz

FADE IN:

A prologue that is dropped.

INT. GARAGE - DAY

Brick works.
");
    assert_eq!(play.title.as_deref(), Some("_**BRICK & STEEL**_ _**FULL RETIRED**_"));
    assert_eq!(play.scenes.len(), 1);
    assert_eq!(play.scenes[0].line, 11);
    assert_eq!(play.scenes[0].action, ["Brick works."]);
}

#[test]
fn opening_transition_is_not_a_title_page() {
    let play = ok("FADE IN:\nINT. HOUSE - DAY\n\nBOB\nHi.\n");
    assert_eq!(play.title, None);
    assert_eq!(play.scenes[0].line, 2);
    assert_eq!(said(&play.scenes[0]), [("bob", "Hi.", 4)]);
}

#[test]
fn transitions_sections_synopses_page_breaks_are_dropped() {
    let play = ok("\
INT. A - DAY

# Section
= Synopsis.

Action one.

CUT TO:
EXT. B - NIGHT
BOB
Hi.

> SMASH CUT
===
INT. C - DAY

>THE END<
");
    let got: Vec<_> = play
        .scenes
        .iter()
        .map(|s| (s.location.as_str(), s.action.clone(), s.line))
        .collect();
    assert_eq!(
        got,
        [
            ("A", vec!["Action one.".to_owned()], 1),
            ("B", vec![], 9),
            ("C", vec!["THE END".to_owned()], 15),
        ]
    );
    assert_eq!(said(&play.scenes[1]), [("bob", "Hi.", 10)]);
}

#[test]
fn boneyard_and_notes_keep_line_numbers() {
    let play = ok("\
/* An opening comment
spanning lines */
INT. A - DAY

BOB
[[a note on its own line]]
Hello /* cut words */ there [[inline]] friend.

/*
ANN
A cut speech.
*/

ANN
Bye.
");
    let scene = &play.scenes[0];
    assert_eq!(scene.line, 3);
    assert_eq!(said(scene), [("bob", "Hello there friend.", 5), ("ann", "Bye.", 14)]);
    assert!(scene.action.is_empty());
}

#[test]
fn notes_may_hold_two_space_blank_lines() {
    let play = ok("INT. A - DAY\n\nBOB\nHi. [[a long\n  \nnote]] Bye.\n");
    assert_eq!(said(&play.scenes[0]), [("bob", "Hi. Bye.", 3)]);
}

#[test]
fn leniencies() {
    let play = ok("\
INT. A - DAY\r
\r
BOOM!\r
\r
!ANN\r
Forced action, not a cue.\r
\r
ANN\r
First line.\r
  \r
After a two-space line.\r
\r
~Sing a song\r
");
    let scene = &play.scenes[0];
    assert_eq!(scene.action, ["BOOM!", "ANN\nForced action, not a cue.", "Sing a song"]);
    assert_eq!(said(scene), [("ann", "First line. After a two-space line.", 8)]);
}

#[test]
fn a_byte_order_mark_is_ignored() {
    let play = ok("\u{feff}Title: BOM\n\nINT. A - DAY\n");
    assert_eq!(play.title.as_deref(), Some("BOM"));
    assert_eq!(play.scenes[0].line, 3);
}

#[test]
fn several_parentheticals_are_joined() {
    let play = ok("INT. A - DAY\n\nBOB\n(quietly)\nWell.\n(beat)\nNo.\n");
    let line = &play.scenes[0].dialogue[0];
    assert_eq!(line.parenthetical.as_deref(), Some("quietly; beat"));
    assert_eq!(line.text, "Well. No.");
}

#[test]
fn errors_carry_their_line() {
    let cases: &[(&str, usize, FountainErrorKind)] = &[
        (
            "INT. A - DAY\n\n@BOB\n\nAction.\n",
            3,
            FountainErrorKind::CueWithoutDialogue { name: "BOB".into() },
        ),
        (
            "INT. A - DAY\n\nAction.\n\nBOB (V.O.)\n",
            5,
            FountainErrorKind::CueWithoutDialogue { name: "BOB".into() },
        ),
        (
            "INT. A - DAY\n\nBOB\n(beat)\n\nMore.\n",
            3,
            FountainErrorKind::CueWithoutDialogue { name: "BOB".into() },
        ),
        (
            "Title: X\n\nPrologue.\n\nBOB\nHi.\n\nINT. A - DAY\n",
            5,
            FountainErrorKind::DialogueOutsideScene,
        ),
        (
            "ANN\n(whispering)\nPsst.\n\nINT. A - DAY\n",
            1,
            FountainErrorKind::DialogueOutsideScene,
        ),
        (
            "INT. A - DAY\n\nText.\n\nEXT. - NIGHT\n",
            5,
            FountainErrorKind::HeadingWithoutLocation,
        ),
        ("INT. A - DAY\n\nEXT.\n", 3, FountainErrorKind::HeadingWithoutLocation),
        (
            "INT. A - DAY\n\n/* never\nclosed\n",
            3,
            FountainErrorKind::UnterminatedBoneyard,
        ),
        (
            "INT. A - DAY\n\nHi [[ never closed\n",
            3,
            FountainErrorKind::UnterminatedNote,
        ),
        (
            "INT. A - DAY\n\n[[ open\n\n]]\n",
            3,
            FountainErrorKind::UnterminatedNote,
        ),
        (
            "Just some action.\n\nMore action.\n",
            1,
            FountainErrorKind::NoSceneHeading,
        ),
        ("", 1, FountainErrorKind::NoSceneHeading),
    ];
    for (text, line, kind) in cases {
        let e = fails(text);
        assert_eq!((e.line, &e.kind), (*line, kind), "for {text:?}");
    }
}

#[test]
fn error_display() {
    let e = fails("INT. A - DAY\n\n\n\n\n\n@BOB\n");
    assert_eq!(e.to_string(), "line 7: character cue \"BOB\" without dialogue");
    assert_eq!(e.message(), "character cue \"BOB\" without dialogue");
    assert_eq!(
        fails("\n/*\n").to_string(),
        "line 2: unterminated boneyard: `/*` without `*/`"
    );
}

fn sample() -> &'static str {
    include_str!("../../tests/fixtures/lighthouse.fountain")
}

fn line(id: &str, name: &str, parenthetical: Option<&str>, text: &str, line: usize) -> DialogueLine {
    DialogueLine {
        character_id: id.into(),
        character_name: name.into(),
        parenthetical: parenthetical.map(Into::into),
        text: text.into(),
        line,
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn realistic_sample_gives_the_expected_structure() {
    let expected = Screenplay {
        title: Some("The Last Lighthouse".into()),
        scenes: vec![
            ScriptScene {
                id: "scene-1".into(),
                heading: "EXT. CLIFFTOP LIGHTHOUSE - DAWN".into(),
                interior_exterior: Some(IntExt::Exterior),
                location: "CLIFFTOP LIGHTHOUSE".into(),
                time_of_day: Some("DAWN".into()),
                line: 12,
                action: strings(&[
                    "Waves pound the rocks below. MARA (30s, soaked) climbs the last steps, a duffel on her shoulder.",
                    "She knocks. The door creaks open. ELIAS (70s) squints at her.",
                ]),
                dialogue: vec![
                    line(
                        "mara",
                        "MARA",
                        None,
                        "Nobody had lit the lamp in forty years. Nobody but him.",
                        18,
                    ),
                    line("elias", "ELIAS", Some("gruff"), "We're closed.", 24),
                    line("mara", "MARA", None, "You're a lighthouse. You don't close.", 28),
                    line("elias", "ELIAS", Some("beat"), "Watch me.", 31),
                ],
                character_ids: strings(&["mara", "elias"]),
                transition: Some(Transition::Cut),
            },
            ScriptScene {
                id: "scene-2".into(),
                heading: "INT. LIGHTHOUSE - LAMP ROOM - CONTINUOUS".into(),
                interior_exterior: Some(IntExt::Interior),
                location: "LIGHTHOUSE - LAMP ROOM".into(),
                time_of_day: Some("CONTINUOUS".into()),
                line: 37,
                action: strings(&["Dust everywhere. A brass lamp, dark."]),
                dialogue: vec![
                    line("mara", "MARA", None, "It still works?", 41),
                    line("elias", "ELIAS", None, "It works when I say it works.", 44),
                ],
                character_ids: strings(&["mara", "elias"]),
                transition: None,
            },
            ScriptScene {
                id: "scene-3".into(),
                heading: "FLASHBACK - THE STORM OF '81".into(),
                interior_exterior: None,
                location: "FLASHBACK".into(),
                time_of_day: Some("THE STORM OF '81".into()),
                line: 55,
                action: strings(&["Rain lashes the glass. YOUNG ELIAS fights the lamp's gears.", "THE END"]),
                dialogue: vec![
                    line("mcgregor", "McGREGOR", None, "Elias! Get down from there!", 59),
                    line("young-elias", "YOUNG ELIAS", None, "I can't leave it dark!", 62),
                ],
                character_ids: strings(&["mcgregor", "young-elias"]),
                transition: None,
            },
        ],
        characters: vec![
            ScriptCharacter {
                id: "mara".into(),
                name: "MARA".into(),
                first_line: 18,
                lines: 3,
            },
            ScriptCharacter {
                id: "elias".into(),
                name: "ELIAS".into(),
                first_line: 24,
                lines: 3,
            },
            ScriptCharacter {
                id: "mcgregor".into(),
                name: "McGREGOR".into(),
                first_line: 59,
                lines: 1,
            },
            ScriptCharacter {
                id: "young-elias".into(),
                name: "YOUNG ELIAS".into(),
                first_line: 62,
                lines: 1,
            },
        ],
    };
    let play = ok(sample());
    assert_eq!(play, expected);

    // Serde round trip, with the heading prefix spelled as screenwriters spell it.
    let json = serde_json::to_string(&play).unwrap_or_default();
    assert!(json.contains(r#""interior_exterior":"EXT""#), "{json}");
    let back: Screenplay = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(back, play);
}

#[test]
fn emphasis_is_markup_in_dialogue_and_action() {
    let play = ok(
        "INT. GARAGE - NIGHT\n\n*Smoke* fills the **whole** room.\n\nBRICK\n*Did you know Brick and Steel are retired?*\n\nSTEEL\n_Beer's_ ready! 2 * 3 \\* 1.\n",
    );
    let scene = &play.scenes[0];
    assert_eq!(scene.action, vec!["Smoke fills the whole room.".to_owned()]);
    assert_eq!(
        said(scene),
        vec![
            ("brick", "Did you know Brick and Steel are retired?", 5),
            ("steel", "Beer's ready! 2 * 3 * 1.", 8),
        ]
    );
}
