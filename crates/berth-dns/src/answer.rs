//! One query in, a decision out: answer it from the zone, forward it upstream, or drop it.

use std::net::{IpAddr, Ipv4Addr};

use hickory_proto::op::{Edns, Message, Metadata, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::Zone;

/// Size of a DNS header; anything shorter is not worth an answer.
pub(crate) const HEADER_LEN: usize = 12;

/// The EDNS payload size we advertise (the DNS flag day 2020 value).
const EDNS_PAYLOAD: u16 = 1232;

/// What to do with a query.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Send these bytes back.
    Reply(Vec<u8>),
    /// Not ours: forward the query as it came.
    Forward {
        /// The answer if no upstream replies in time.
        servfail: Vec<u8>,
        /// The largest answer the client takes (its UDP payload size; 65535 over TCP).
        max_len: usize,
    },
    /// Not worth an answer (too short, or itself a response).
    Drop,
}

/// Everything `decide` needs besides the packet.
pub(crate) struct Ctx<'a> {
    pub zone: &'a Zone,
    pub network: &'a str,
    /// The client's address: a container on several networks sees the names on all of them.
    pub client: Option<Ipv4Addr>,
    pub ttl: u32,
    /// Rotates the order of multi-address answers (round robin).
    pub rotate: usize,
    /// Over UDP, the client's payload limit applies; over TCP there is none.
    pub udp: bool,
}

/// Decides what to do with one query packet. Never panics on any input.
pub(crate) fn decide(packet: &[u8], ctx: &Ctx<'_>) -> Outcome {
    if packet.len() < HEADER_LEN || packet[2] & 0x80 != 0 {
        return Outcome::Drop;
    }
    let request = match Message::from_vec(packet) {
        Ok(m) => m,
        Err(_) => return Outcome::Reply(raw_error(packet, ResponseCode::FormErr)),
    };
    if request.metadata.op_code != OpCode::Query {
        return Outcome::Reply(raw_error(packet, ResponseCode::NotImp));
    }
    let [query] = request.queries.as_slice() else {
        return Outcome::Reply(raw_error(packet, ResponseCode::FormErr));
    };
    if query.query_class() != DNSClass::IN {
        return forward(&request, query, ctx);
    }
    let name = query.name().to_ascii();
    let mut rdata: Vec<RData> = match query.query_type() {
        RecordType::A => ctx
            .zone
            .lookup_from(ctx.network, ctx.client, &name)
            .into_iter()
            .map(|ip| RData::A(A(ip)))
            .collect(),
        RecordType::AAAA => ctx
            .zone
            .lookup6_from(ctx.network, ctx.client, &name)
            .into_iter()
            .map(|ip| RData::AAAA(AAAA(ip)))
            .collect(),
        _ => Vec::new(),
    };
    // Every other type of a known name (and AAAA without IPv6): NOERROR with no answers, so
    // that clients asking for both take the A answer instead of failing on NXDOMAIN.
    if !rdata.is_empty() || ctx.zone.knows(ctx.network, ctx.client, &name) {
        if !rdata.is_empty() {
            let shift = ctx.rotate % rdata.len();
            rdata.rotate_left(shift);
        }
        let answers = rdata
            .into_iter()
            .map(|r| Record::from_rdata(query.name().clone(), ctx.ttl, r))
            .collect();
        return reply(&request, query, answers, ctx);
    }
    if query.query_type() == RecordType::PTR {
        if let Some(target) = ptr_target(query, ctx) {
            let rdata = RData::PTR(PTR(target));
            let record = Record::from_rdata(query.name().clone(), ctx.ttl, rdata);
            return reply(&request, query, vec![record], ctx);
        }
    }
    forward(&request, query, ctx)
}

/// The name a container's `d.c.b.a.in-addr.arpa` points to, if the address is one of ours.
fn ptr_target(query: &Query, ctx: &Ctx<'_>) -> Option<Name> {
    let net = query.name().parse_arpa_name().ok()?;
    let IpAddr::V4(ip) = net.addr() else {
        return None;
    };
    if net.prefix_len() != 32 {
        return None;
    }
    let name = ctx.zone.reverse_from(ctx.network, ctx.client, ip)?;
    Name::from_ascii(format!("{name}.")).ok()
}

fn response(request: &Message, query: &Query, code: ResponseCode) -> Message {
    let mut msg = Message::response(request.metadata.id, OpCode::Query);
    msg.metadata = Metadata::response_from_request(&request.metadata);
    msg.metadata.recursion_available = true;
    msg.metadata.response_code = code;
    msg.add_query(query.clone());
    if request.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
        msg.set_edns(edns);
    }
    msg
}

fn reply(request: &Message, query: &Query, answers: Vec<Record>, ctx: &Ctx<'_>) -> Outcome {
    let mut msg = response(request, query, ResponseCode::NoError);
    msg.metadata.authoritative = true;
    msg.answers = answers;
    let limit = max_len(request, ctx);
    loop {
        let Ok(bytes) = msg.to_vec() else {
            return Outcome::Reply(raw_error_from(request, ResponseCode::ServFail));
        };
        if bytes.len() <= limit || msg.answers.is_empty() {
            return Outcome::Reply(bytes);
        }
        // Too big for the client's UDP limit: drop answers until it fits and say so (TC), so
        // that a client wanting all of them retries over TCP.
        msg.metadata.truncation = true;
        let keep = msg.answers.len() * limit / bytes.len();
        msg.answers.truncate(keep.min(msg.answers.len() - 1));
    }
}

fn forward(request: &Message, query: &Query, ctx: &Ctx<'_>) -> Outcome {
    let servfail = response(request, query, ResponseCode::ServFail)
        .to_vec()
        .unwrap_or_else(|_| raw_error_from(request, ResponseCode::ServFail));
    let max_len = max_len(request, ctx);
    Outcome::Forward { servfail, max_len }
}

/// The largest answer the client takes: its EDNS payload size (at least 512) over UDP.
fn max_len(request: &Message, ctx: &Ctx<'_>) -> usize {
    if ctx.udp {
        usize::from(request.max_payload())
    } else {
        usize::from(u16::MAX)
    }
}

/// A bare header answering `request` with `code`.
fn raw_error_from(request: &Message, code: ResponseCode) -> Vec<u8> {
    let mut header = [0u8; HEADER_LEN];
    header[..2].copy_from_slice(&request.metadata.id.to_be_bytes());
    header[2] = u8::from(request.metadata.op_code) << 3;
    header[2] |= u8::from(request.metadata.recursion_desired);
    set_error_bits(&mut header, code);
    header.to_vec()
}

/// A bare header answering the packet (at least [`HEADER_LEN`] long) with `code`: same id,
/// opcode and RD bit, no sections (for packets that do not parse).
pub(crate) fn raw_error(packet: &[u8], code: ResponseCode) -> Vec<u8> {
    let mut header = [0u8; HEADER_LEN];
    header[..2].copy_from_slice(&packet[..2]);
    header[2] = packet[2] & 0x79; // opcode and RD
    set_error_bits(&mut header, code);
    header.to_vec()
}

fn set_error_bits(header: &mut [u8; HEADER_LEN], code: ResponseCode) {
    header[2] |= 0x80; // QR: a response
    header[3] = 0x80 | (code.low() & 0x0f); // RA, RCODE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(zone: &Zone) -> Ctx<'_> {
        Ctx {
            zone,
            network: "n",
            client: None,
            ttl: 600,
            rotate: 0,
            udp: true,
        }
    }

    fn query(name: &str, rtype: RecordType) -> Vec<u8> {
        let mut m = Message::query();
        m.metadata.id = 0x1234;
        m.metadata.recursion_desired = true;
        let name = Name::from_ascii(name).expect("name");
        m.add_query(Query::query(name, rtype));
        m.to_vec().expect("encode")
    }

    fn parse(o: Outcome) -> Message {
        match o {
            Outcome::Reply(b) => Message::from_vec(&b).expect("decode"),
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    #[test]
    fn garbage_never_panics() {
        let zone = Zone::new();
        let c = ctx(&zone);
        for len in 0..64 {
            for seed in 0..32u8 {
                let p: Vec<u8> = (0..len)
                    .map(|i| (i as u8).wrapping_mul(31) ^ seed)
                    .collect();
                let _ = decide(&p, &c);
            }
        }
        assert!(matches!(decide(&[1, 2, 3], &c), Outcome::Drop));
        let mut bad = query("x.", RecordType::A);
        bad.truncate(bad.len() - 3);
        let m = parse(decide(&bad, &c));
        assert_eq!(m.metadata.id, 0x1234);
        assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
    }

    #[test]
    fn many_answers_are_truncated_to_fit_udp() {
        let zone = Zone::new();
        for i in 0..100u8 {
            let id = format!("{i:0>64}");
            zone.set(
                "n",
                &id,
                &["a-rather-long-shared-alias-name".into()],
                [10, 0, 1, i].into(),
            );
        }
        let p = query("a-rather-long-shared-alias-name.", RecordType::A);
        let c = ctx(&zone);
        match decide(&p, &c) {
            Outcome::Reply(b) => {
                assert!(b.len() <= 512, "{}", b.len());
                let m = Message::from_vec(&b).expect("decode");
                assert!(m.metadata.truncation);
                assert!(!m.answers.is_empty());
            }
            other => panic!("{other:?}"),
        }
        let tcp = Ctx { udp: false, ..c };
        let m = parse(decide(&p, &tcp));
        assert_eq!(m.answers.len(), 100);
        assert!(!m.metadata.truncation);
    }

    #[test]
    fn rotation() {
        let zone = Zone::new();
        zone.set("n", "aaaaaaaaaaaa", &["s".into()], [10, 0, 0, 1].into());
        zone.set("n", "bbbbbbbbbbbb", &["s".into()], [10, 0, 0, 2].into());
        let p = query("s.", RecordType::A);
        let first = |rotate| {
            let m = parse(decide(
                &p,
                &Ctx {
                    rotate,
                    ..ctx(&zone)
                },
            ));
            m.answers[0].data.clone()
        };
        assert_ne!(first(0), first(1));
        assert_eq!(first(0), first(2));
    }
}
