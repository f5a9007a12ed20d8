//! Relaying an Icecast/SHOUTcast station (to be written).
