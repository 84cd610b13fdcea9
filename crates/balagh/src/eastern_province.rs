//! The Eastern Province's cities: names, the boxes their built-up areas lie in, and some of their
//! districts, shared by the demo data and the intake load generator so coordinates and text agree.

/// A city of the Eastern Province: its names, the box its built-up area lies in, and districts.
pub struct City {
    pub name_ar: &'static str,
    pub name_en: &'static str,
    pub slug: &'static str,
    pub weight: u32,
    pub lat: (f64, f64),
    pub lon: (f64, f64),
    /// Arabic and English names.
    pub districts: &'static [(&'static str, &'static str)],
}

pub const CITIES: &[City] = &[
    City {
        name_ar: "الدمام",
        name_en: "Dammam",
        slug: "dammam",
        weight: 30,
        lat: (26.33, 26.50),
        lon: (49.95, 50.16),
        districts: &[
            ("الفيصلية", "Al Faisaliyah"),
            ("الشاطئ", "Al Shati"),
            ("المزروعية", "Al Mazruiyah"),
            ("الجلوية", "Al Jalawiyah"),
            ("أحد", "Uhud"),
            ("الروضة", "Al Rawdah"),
            ("بدر", "Badr"),
            ("النخيل", "Al Nakheel"),
        ],
    },
    City {
        name_ar: "الخبر",
        name_en: "Al Khobar",
        slug: "khobar",
        weight: 15,
        lat: (26.19, 26.33),
        lon: (50.15, 50.23),
        districts: &[
            ("العليا", "Al Ulaya"),
            ("العقربية", "Al Aqrabiyah"),
            ("الثقبة", "Al Thuqbah"),
            ("الخبر الشمالية", "Al Khobar Al Shamaliyah"),
            ("اليرموك", "Al Yarmouk"),
            ("الراكة", "Al Rakah"),
            ("الحزام الذهبي", "Al Hizam Al Thahabi"),
        ],
    },
    City {
        name_ar: "الظهران",
        name_en: "Dhahran",
        slug: "dhahran",
        weight: 5,
        lat: (26.26, 26.33),
        lon: (50.08, 50.16),
        districts: &[("الدوحة", "Al Dawhah"), ("الدانة", "Al Dana"), ("القصور", "Al Qusur")],
    },
    City {
        name_ar: "القطيف",
        name_en: "Qatif",
        slug: "qatif",
        weight: 12,
        lat: (26.45, 26.67),
        lon: (49.93, 50.08),
        districts: &[("القديح", "Al Qudaih"), ("سيهات", "Saihat"), ("صفوى", "Safwa"), ("تاروت", "Tarout"), ("العوامية", "Al Awamiyah"), ("الجش", "Al Jish")],
    },
    City {
        name_ar: "الجبيل",
        name_en: "Jubail",
        slug: "jubail",
        weight: 9,
        lat: (26.90, 27.10),
        lon: (49.55, 49.70),
        districts: &[("الفناتير", "Al Fanateer"), ("الدفي", "Al Deffi"), ("الحويلات", "Al Huwailat"), ("جلمودة", "Jalmudah")],
    },
    City {
        name_ar: "الأحساء",
        name_en: "Al-Ahsa",
        slug: "ahsa",
        weight: 22,
        lat: (25.28, 25.47),
        lon: (49.50, 49.68),
        districts: &[
            ("الكوت", "Al Kut"),
            ("النعاثل", "Al Naathel"),
            ("الرفعة", "Al Rifaa"),
            ("السلمانية", "Al Salmaniyah"),
            ("المبرز", "Al Mubarraz"),
            ("محاسن", "Mahasin"),
        ],
    },
    City {
        name_ar: "رأس تنورة",
        name_en: "Ras Tanura",
        slug: "ras-tanura",
        weight: 3,
        lat: (26.63, 26.74),
        lon: (50.02, 50.17),
        districts: &[("رحيمة", "Rahimah"), ("نجمة", "Najmah")],
    },
    City {
        name_ar: "الخفجي",
        name_en: "Khafji",
        slug: "khafji",
        weight: 3,
        lat: (28.39, 28.46),
        lon: (48.46, 48.53),
        districts: &[("الفيصلية", "Al Faisaliyah"), ("اليرموك", "Al Yarmouk"), ("العزيزية", "Al Aziziyah"), ("الخليج", "Al Khaleej")],
    },
];

/// The cities and districts IVR callers and portal visitors choose from, in the order of `CITIES`.
pub fn cities() -> Vec<balagh_ivr::City> {
    CITIES
        .iter()
        .map(|city| balagh_ivr::City {
            name_ar: city.name_ar.to_owned(),
            name_en: city.name_en.to_owned(),
            districts: city.districts.iter().map(|(ar, en)| ((*ar).to_owned(), (*en).to_owned())).collect(),
        })
        .collect()
}
