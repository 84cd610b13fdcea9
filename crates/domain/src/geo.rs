//! Where a report is: WGS84 coordinates, address text, city and district, and the Saudi national
//! address short code.

use crate::error::FieldError;
use serde::{Deserialize, Serialize};

/// A WGS84 point; latitude in [-90, 90], longitude in [-180, 180], both finite.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Coordinates {
    lat: f64,
    lon: f64,
}

impl Coordinates {
    pub fn new(lat: f64, lon: f64) -> Result<Self, FieldError> {
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(FieldError::new("lat", "latitude_out_of_range", format!("latitude {lat} must be between -90 and 90")));
        }
        if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
            return Err(FieldError::new("long", "longitude_out_of_range", format!("longitude {lon} must be between -180 and 180")));
        }
        Ok(Self { lat, lon })
    }

    pub fn lat(self) -> f64 {
        self.lat
    }

    pub fn lon(self) -> f64 {
        self.lon
    }

    /// The great-circle distance to `other` in kilometres (haversine, on a sphere of the Earth's
    /// mean radius: within half a percent, enough to say which report is nearer).
    pub fn distance_km(self, other: Coordinates) -> f64 {
        const EARTH_RADIUS_KM: f64 = 6371.0;
        let (lat1, lat2) = (self.lat.to_radians(), other.lat.to_radians());
        let (dlat, dlon) = ((other.lat - self.lat).to_radians(), (other.lon - self.lon).to_radians());
        let a = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
    }

    /// Reads "LAT,LON" (as a browser passes a position).
    pub fn parse_pair(field: &str, text: &str) -> Result<Self, FieldError> {
        let bad = || FieldError::new(field, "invalid_coordinates", format!("'{text}' is not a latitude and a longitude separated by a comma"));
        let (lat, lon) = text.split_once(',').ok_or_else(bad)?;
        let (lat, lon) = (lat.trim().parse::<f64>().map_err(|_| bad())?, lon.trim().parse::<f64>().map_err(|_| bad())?);
        Coordinates::new(lat, lon).map_err(|e| FieldError::new(field, e.code, e.message))
    }

    /// The index of the 0.1° × 0.1° grid cell (about 11 km) holding this point. Stored beside the
    /// coordinates, it lets map queries use an index without scattering every insert across it.
    pub fn grid_cell(self) -> i64 {
        grid_cell(self.lat, self.lon)
    }

    /// The grid cells covering the box between two corners, or `None` when there are more than
    /// `max_cells` (a box that large is better served by scanning recent reports).
    pub fn cells_between(south_west: Coordinates, north_east: Coordinates, max_cells: usize) -> Option<Vec<i64>> {
        let (row_from, row_to) = (grid_row(south_west.lat), grid_row(north_east.lat));
        let (col_from, col_to) = (grid_col(south_west.lon), grid_col(north_east.lon));
        let count = usize::try_from((row_to - row_from + 1) * (col_to - col_from + 1)).ok()?;
        if count > max_cells {
            return None;
        }
        Some((row_from..=row_to).flat_map(|row| (col_from..=col_to).map(move |col| row * GRID_COLUMNS + col)).collect())
    }
}

/// Grid cells per degree.
const GRID_PER_DEGREE: f64 = 10.0;
/// Columns in the grid: 360 degrees of longitude, plus one for 180° itself.
const GRID_COLUMNS: i64 = 360 * 10 + 1;

fn grid_row(lat: f64) -> i64 {
    ((lat + 90.0) * GRID_PER_DEGREE).floor() as i64
}

fn grid_col(lon: f64) -> i64 {
    ((lon + 180.0) * GRID_PER_DEGREE).floor() as i64
}

fn grid_cell(lat: f64, lon: f64) -> i64 {
    grid_row(lat) * GRID_COLUMNS + grid_col(lon)
}

/// A Saudi national address short code: four letters and four digits, such as `RRRD2929`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShortAddress(String);

impl ShortAddress {
    pub fn parse(field: &str, input: &str) -> Result<Self, FieldError> {
        let upper = crate::digits::to_ascii_digits(input.trim()).to_ascii_uppercase().replace(' ', "");
        let bytes = upper.as_bytes();
        if bytes.len() == 8 && bytes[..4].iter().all(u8::is_ascii_uppercase) && bytes[4..].iter().all(u8::is_ascii_digit) {
            Ok(Self(upper))
        } else {
            Err(FieldError::new(
                field,
                "invalid_short_address",
                format!("'{}' is not a national address short code (four letters then four digits, e.g. RRRD2929)", input.trim()),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Everything known about where a report is; at least one part is present when the service needs a
/// location.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Location {
    pub coordinates: Option<Coordinates>,
    pub address: Option<String>,
    /// Open311 `address_id`: an identifier from the municipality's address system.
    pub address_id: Option<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub short_address: Option<ShortAddress>,
}

impl Location {
    pub fn is_empty(&self) -> bool {
        self.coordinates.is_none() && self.address.is_none() && self.address_id.is_none() && self.short_address.is_none()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn distances_are_great_circle_kilometres() {
        let dammam = Coordinates::new(26.4207, 50.0888).unwrap();
        let khobar = Coordinates::new(26.2172, 50.1971).unwrap();
        let riyadh = Coordinates::new(24.7136, 46.6753).unwrap();
        assert!((dammam.distance_km(khobar) - 24.9).abs() < 0.5, "{}", dammam.distance_km(khobar));
        assert!((dammam.distance_km(riyadh) - 391.5).abs() < 1.0, "{}", dammam.distance_km(riyadh));
        assert_eq!(dammam.distance_km(dammam), 0.0);
        let antipode = Coordinates::new(-26.4207, -129.9112).unwrap();
        assert!((dammam.distance_km(antipode) - 20015.0).abs() < 5.0);
    }

    #[test]
    fn a_position_is_read_from_lat_comma_lon() {
        assert_eq!(Coordinates::parse_pair("near", " 26.2172, 50.1971 ").unwrap(), Coordinates::new(26.2172, 50.1971).unwrap());
        for bad in ["", "26.2", "a,b", "91,50", "26,181", "NaN,1"] {
            assert!(Coordinates::parse_pair("near", bad).is_err(), "{bad}");
        }
        assert_eq!(Coordinates::parse_pair("near", "x").unwrap_err().field, "near");
    }

    use super::*;

    #[test]
    fn coordinates_outside_wgs84_are_refused() {
        assert!(Coordinates::new(26.43, 50.10).is_ok());
        assert_eq!(Coordinates::new(91.0, 0.0).unwrap_err().field, "lat");
        assert_eq!(Coordinates::new(0.0, -180.5).unwrap_err().field, "long");
        assert!(Coordinates::new(f64::NAN, 0.0).is_err());
        assert!(Coordinates::new(0.0, f64::INFINITY).is_err());
    }

    #[test]
    fn grid_cells_cover_a_box_and_hold_its_points() {
        let south_west = Coordinates::new(26.36, 50.00).unwrap();
        let north_east = Coordinates::new(26.47, 50.15).unwrap();
        let cells = Coordinates::cells_between(south_west, north_east, 100).unwrap();
        assert_eq!(cells.len(), 2 * 2);
        for (lat, lon) in [(26.36, 50.0), (26.47, 50.15), (26.41, 50.07)] {
            assert!(cells.contains(&Coordinates::new(lat, lon).unwrap().grid_cell()));
        }
        assert!(!cells.contains(&Coordinates::new(26.2, 50.2).unwrap().grid_cell()));
        let world = Coordinates::cells_between(Coordinates::new(-90.0, -180.0).unwrap(), Coordinates::new(90.0, 180.0).unwrap(), 100);
        assert_eq!(world, None);
    }

    #[test]
    fn short_address_is_four_letters_then_four_digits() {
        assert_eq!(ShortAddress::parse("short_address", "rrrd 2929").unwrap().as_str(), "RRRD2929");
        assert!(ShortAddress::parse("short_address", "RRR2929").is_err());
    }
}
