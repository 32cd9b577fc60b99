//! The font the charts are drawn with: the DejaVu Sans shipped here when it has every
//! character of the charts' text, else the font file of `[charts] font`, else an installed
//! font found at its usual place (Noto CJK, WenQuanYi, Source Han, PingFang, Microsoft
//! YaHei). No fontconfig or system font service: a short list of paths is checked, so a
//! machine without any of them still draws with the shipped font. Choosing and registering
//! fonts only; the drawing is in `charts`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{anyhow, Context, Result};
use plotters::style::{register_font, FontStyle};

/// DejaVu Sans (Latin, Greek, Cyrillic and more; no Chinese, Japanese or Korean).
const BUNDLED: &[u8] = include_bytes!("DejaVuSans.ttf");
/// The family the shipped font is registered as (and named in the SVGs).
const BUNDLED_FAMILY: &str = "sans-serif";

/// Where the common CJK fonts are installed, best first: Linux distributions, macOS,
/// Windows. The comment names the package that installs the file.
const USUAL_PATHS: &[&str] = &[
    // Debian, Ubuntu: fonts-noto-cjk
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    // Arch: noto-fonts-cjk; Fedora: google-noto-sans-cjk-fonts
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-sans-cjk-fonts/NotoSansCJK-Regular.ttc",
    // Debian, Ubuntu: fonts-wqy-microhei, fonts-wqy-zenhei
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    // Fedora, Arch: wqy-microhei-fonts, wqy-microhei
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
    // Source Han Sans (Arch: adobe-source-han-sans-cn-fonts; Fedora: adobe-source-han-sans-cn-fonts)
    "/usr/share/fonts/adobe-source-han-sans/SourceHanSansCN-Regular.otf",
    "/usr/share/fonts/adobe-source-han-sans-cn/SourceHanSansCN-Regular.otf",
    "/usr/share/fonts/opentype/source-han-sans/SourceHanSans-Regular.ttc",
    // macOS
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/Hiragino Sans GB.ttc",
    "/System/Library/Fonts/STHeiti Light.ttc",
    // Windows: Microsoft YaHei, SimHei
    "C:\\Windows\\Fonts\\msyh.ttc",
    "C:\\Windows\\Fonts\\msyh.ttf",
    "C:\\Windows\\Fonts\\simhei.ttf",
];

/// The installed fonts that may be used, in the order they are tried.
pub fn usual_fonts() -> Vec<PathBuf> {
    USUAL_PATHS
        .iter()
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .collect()
}

/// A font ready to draw with: registered with plotters under `family`.
#[derive(Debug, Clone, Copy)]
pub struct ChartFont {
    /// The family charts name in their text styles; also the SVGs' `font-family`.
    pub family: &'static str,
    /// What the notes call it: "the shipped DejaVu Sans" or the file's path.
    pub source: &'static str,
    data: &'static [u8],
}

impl ChartFont {
    /// Whether the font draws `ch` (white space needs no glyph).
    pub fn covers(&self, ch: char) -> bool {
        ch.is_whitespace()
            || ttf_parser::Face::parse(self.data, 0)
                .map(|f| f.glyph_index(ch).is_some())
                .unwrap_or(false)
    }

    /// The characters of `text` the font does not draw, each once.
    pub fn missing(&self, text: &str) -> Vec<char> {
        let Ok(face) = ttf_parser::Face::parse(self.data, 0) else {
            return text.chars().collect();
        };
        let mut missing: Vec<char> = Vec::new();
        for ch in text.chars() {
            if !ch.is_whitespace() && face.glyph_index(ch).is_none() && !missing.contains(&ch) {
                missing.push(ch);
            }
        }
        missing
    }
}

/// Fonts registered so far, by file (`None`: the shipped one). A font file is read, checked
/// and registered once per process; its bytes live as long as the process, as plotters needs.
static REGISTERED: Mutex<Vec<(Option<PathBuf>, ChartFont)>> = Mutex::new(Vec::new());

/// The shipped DejaVu Sans, registered.
pub fn bundled() -> Result<ChartFont> {
    register(None, || Ok(BUNDLED))
}

/// The font in the file at `path` (a `.ttf`, `.otf` or `.ttc`), registered. In a collection
/// (`.ttc`), the face for simplified Chinese is taken when there is one, else the first.
pub fn load(path: &Path) -> Result<ChartFont> {
    register(Some(path), || {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read the font file {}", path.display()))?;
        let bytes = simplified_chinese_first(bytes);
        ttf_parser::Face::parse(&bytes, 0).map_err(|e| {
            anyhow!(
                "{} is not a font tiering can read ({e}); give a TrueType or OpenType file (.ttf, .otf or .ttc)",
                path.display()
            )
        })?;
        Ok(Box::leak(bytes.into_boxed_slice()))
    })
}

/// Checks that `path` is a font file the charts can use (for the pipeline file's check).
pub fn check_font_file(path: &Path) -> Result<()> {
    load(path).map(|_| ())
}

fn register(
    path: Option<&Path>,
    read: impl FnOnce() -> Result<&'static [u8]>,
) -> Result<ChartFont> {
    let mut fonts = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, f)) = fonts.iter().find(|(p, _)| p.as_deref() == path) {
        return Ok(*f);
    }
    let data = read()?;
    let (family, source) = match path {
        None => (
            BUNDLED_FAMILY.to_string(),
            "the shipped DejaVu Sans".to_string(),
        ),
        Some(p) => {
            // Named in the SVGs as the font's family, then any sans-serif: a viewer with the
            // font installed uses it. Two files of one family get distinct names, since
            // plotters keeps one font per name.
            let name = family_name(data).unwrap_or_else(|| "chart font".to_string());
            let same = fonts
                .iter()
                .filter(|(_, f)| f.family.starts_with(&format!("{name},")))
                .count();
            let name = if same == 0 {
                name
            } else {
                format!("{name} {}", same + 1)
            };
            (format!("{name}, sans-serif"), p.display().to_string())
        }
    };
    let family: &'static str = Box::leak(family.into_boxed_str());
    register_font(family, FontStyle::Normal, data).map_err(|_| match path {
        Some(p) => anyhow!("{} is not a font tiering can draw with", p.display()),
        None => anyhow!("the chart font shipped with tiering could not be loaded"),
    })?;
    let font = ChartFont {
        family,
        source: Box::leak(source.into_boxed_str()),
        data,
    };
    fonts.push((path.map(Path::to_path_buf), font));
    Ok(font)
}

/// The font's family name, with only letters, digits, spaces and hyphens (it goes into an
/// SVG attribute).
fn family_name(data: &[u8]) -> Option<String> {
    let face = ttf_parser::Face::parse(data, 0).ok()?;
    let name = face
        .names()
        .into_iter()
        .filter(|n| n.name_id == ttf_parser::name_id::FAMILY && n.is_unicode())
        .find_map(|n| n.to_string())?;
    let clean: String = name
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-')
        .collect();
    (!clean.trim().is_empty()).then(|| clean.trim().to_string())
}

/// A font collection (`.ttc`) with its simplified Chinese face moved first; anything else as
/// it is. plotters draws with a file's first face, and in Noto Sans CJK that is the Japanese
/// one, whose forms of shared characters differ from those Chinese readers expect. The
/// collection header is a list of offsets to the faces; swapping two entries is enough.
fn simplified_chinese_first(mut bytes: Vec<u8>) -> Vec<u8> {
    let faces = ttf_parser::fonts_in_collection(&bytes).unwrap_or(0);
    let sc = (1..faces).find(|i| {
        ttf_parser::Face::parse(&bytes, *i)
            .ok()
            .and_then(|f| family_name_of(&f))
            .is_some_and(|n| {
                let n = format!(" {n} ");
                n.contains(" SC ") || n.contains(" CN ") || n.contains(" GB ")
            })
    });
    if let Some(i) = sc {
        // Header: tag, version (4 + 4 bytes), face count (4), then one u32 offset per face.
        let (a, b) = (12, 12 + 4 * i as usize);
        for k in 0..4 {
            bytes.swap(a + k, b + k);
        }
    }
    bytes
}

fn family_name_of(face: &ttf_parser::Face) -> Option<String> {
    face.names()
        .into_iter()
        .filter(|n| n.name_id == ttf_parser::name_id::FAMILY && n.is_unicode())
        .find_map(|n| n.to_string())
}

/// The font the charts are drawn with, and the notes to add when some text has characters
/// it lacks. `texts` are the names and words the charts show; `explicit` is `[charts]
/// font`; `installed` the fonts found at their usual places ([`usual_fonts`]).
pub fn choose_font(
    texts: &[&str],
    explicit: Option<&Path>,
    installed: &[PathBuf],
) -> Result<(ChartFont, Vec<String>)> {
    let shipped = bundled()?;
    let uncovered = |f: &ChartFont| texts.iter().map(|t| f.missing(t).len()).sum::<usize>();
    let font = match explicit {
        Some(path) => load(path).with_context(|| format!("[charts] font = {:?}", path))?,
        None if uncovered(&shipped) == 0 => shipped,
        None => {
            // The first installed font that has every character, else the one missing the
            // fewest; a font that cannot be read is passed over.
            let mut best = (shipped, uncovered(&shipped));
            for path in installed {
                let Ok(f) = load(path) else { continue };
                let n = uncovered(&f);
                if n < best.1 {
                    best = (f, n);
                }
                if n == 0 {
                    break;
                }
            }
            best.0
        }
    };
    Ok((font, missing_notes(&font, texts, explicit.is_some())))
}

/// "chart text ... has characters no available font covers" for the texts `font` lacks.
fn missing_notes(font: &ChartFont, texts: &[&str], explicit: bool) -> Vec<String> {
    let mut lacking: Vec<(&str, Vec<char>)> = Vec::new();
    for t in texts {
        let m = font.missing(t);
        if !m.is_empty() && !lacking.iter().any(|(x, _)| x == t) {
            lacking.push((t, m));
        }
    }
    if lacking.is_empty() {
        return Vec::new();
    }
    let shown: Vec<String> = lacking
        .iter()
        .take(5)
        .map(|(t, m)| format!("{t:?} ({})", m.iter().collect::<String>()))
        .collect();
    let more = match lacking.len() {
        n if n > 5 => format!(" and {} more", n - 5),
        _ => String::new(),
    };
    let fix = if explicit {
        "set [charts] font to a font file that has them"
    } else {
        "install a font that has them (on Debian or Ubuntu: apt-get install fonts-noto-cjk) or set [charts] font to one"
    };
    vec![format!(
        "charts: no available font covers every character of {}{more}: they draw as boxes in the PNG charts (font used: {}); {fix}",
        shown.join(", "),
        font.source
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/fonts")
            .join(name)
    }

    #[test]
    fn latin_text_keeps_the_shipped_font_and_chinese_takes_one_that_has_it() {
        let cjk = fixture("NotoSansCJKsc-subset.otf");
        let (f, notes) =
            choose_font(&["A", "Champions"], None, std::slice::from_ref(&cjk)).unwrap();
        assert_eq!(f.family, BUNDLED_FAMILY);
        assert!(notes.is_empty(), "{notes:?}");
        let (f, notes) = choose_font(&["核心", "重点"], None, std::slice::from_ref(&cjk)).unwrap();
        assert!(f.family.starts_with("Noto Sans CJK SC"), "{}", f.family);
        assert!(f.family.ends_with(", sans-serif"), "{}", f.family);
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn characters_no_font_has_are_named_in_a_note() {
        // No installed font: the shipped one draws, and the note names the tier name and
        // its missing characters.
        let (f, notes) = choose_font(&["核心", "B"], None, &[]).unwrap();
        assert_eq!(f.family, BUNDLED_FAMILY);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].contains("\"核心\" (核心)") && notes[0].contains("fonts-noto-cjk"),
            "{}",
            notes[0]
        );
        // A character the subset font lacks (鑫) is named even with that font chosen.
        let cjk = fixture("NotoSansCJKsc-subset.otf");
        let (_, notes) = choose_font(&["核心", "鑫核"], Some(&cjk), &[]).unwrap();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("\"鑫核\" (鑫)"), "{}", notes[0]);
        assert!(notes[0].contains("set [charts] font"), "{}", notes[0]);
    }

    #[test]
    fn a_file_that_is_not_a_font_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("not-a-font.ttf");
        std::fs::write(&bad, b"hello").unwrap();
        let e = format!("{:#}", check_font_file(&bad).unwrap_err());
        assert!(
            e.contains("not-a-font.ttf") && e.contains(".ttf, .otf or .ttc"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            check_font_file(&dir.path().join("absent.otf")).unwrap_err()
        );
        assert!(
            e.contains("cannot read the font file") && e.contains("absent.otf"),
            "{e}"
        );
        // An unreadable installed font is passed over, not an error.
        let (f, _) = choose_font(&["核心"], None, &[bad]).unwrap();
        assert_eq!(f.family, BUNDLED_FAMILY);
    }

    /// The header swap of a collection: the simplified Chinese face comes first.
    #[test]
    fn a_collection_draws_with_its_simplified_chinese_face() {
        // A collection of DejaVu Sans and, second, the simplified Chinese subset font.
        let sc = std::fs::read(fixture("NotoSansCJKsc-subset.otf")).unwrap();
        let ttc = two_face_collection(BUNDLED, &sc);
        assert_eq!(ttf_parser::fonts_in_collection(&ttc), Some(2));
        let first = ttf_parser::Face::parse(&ttc, 0).unwrap();
        assert_eq!(family_name_of(&first).as_deref(), Some("DejaVu Sans"));
        let swapped = simplified_chinese_first(ttc.clone());
        let first = ttf_parser::Face::parse(&swapped, 0).unwrap();
        assert_eq!(family_name_of(&first).as_deref(), Some("Noto Sans CJK SC"));
        // The offsets of faces 0 and 1 traded places; nothing else moved.
        assert_eq!(&swapped[12..16], &ttc[16..20]);
        assert_eq!(&swapped[16..20], &ttc[12..16]);
        assert_eq!(&swapped[20..], &ttc[20..]);
    }

    /// A TrueType collection of two single fonts.
    fn two_face_collection(a: &[u8], b: &[u8]) -> Vec<u8> {
        let first = 12 + 8;
        let second = first + a.len() as u32;
        let mut out = b"ttcf".to_vec();
        out.extend(0x0001_0000u32.to_be_bytes());
        out.extend(2u32.to_be_bytes());
        out.extend(first.to_be_bytes());
        out.extend(second.to_be_bytes());
        // Table offsets in a face count from the start of the file: shift each face's.
        out.extend(shift_tables(a, first));
        out.extend(shift_tables(b, second));
        out
    }

    fn shift_tables(font: &[u8], by: u32) -> Vec<u8> {
        let mut v = font.to_vec();
        let tables = u16::from_be_bytes([v[4], v[5]]) as usize;
        for t in 0..tables {
            let at = 12 + 16 * t + 8;
            let off = u32::from_be_bytes(v[at..at + 4].try_into().unwrap()) + by;
            v[at..at + 4].copy_from_slice(&off.to_be_bytes());
        }
        v
    }
}
