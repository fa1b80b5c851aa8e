//! Handing one end to the kernel's own stack of the wire format and back:
//! the kernel is the independent peer of the data plane. For ESP the
//! end's data plane is detached and xfrm states and policies with the same
//! SPIs and keys take over; back on `bpf`, they are flushed and the data
//! plane attached again. Each switch first renews the SAs of both ends
//! (new SPIs), so the sequence numbers of one stack never meet the replay
//! window of the other. For WireGuard the kernel's `wireguard` link takes
//! the end's keys, port and address (`wg::Tunnel`), and the sessions start
//! over.

use std::collections::BTreeMap;

use anyhow::{Context, Result};

use super::setup::{Run, attach};
use super::xfrm_peer::{REPLAY_WINDOW, REQID_IN, REQID_OUT, algs};
use crate::domain::{Side, Stack};
use crate::output::progress::Progress;
use crate::spec::plan::Plan;
use crate::sys::request_error::RequestError;
use crate::sys::topology;
use crate::sys::xfrm::{self, PolicyDir, XfrmSa};

/// Hands `side` to `to`.
pub(crate) fn switch(
    run: &mut Run,
    n: usize,
    side: Side,
    to: Stack,
    progress: &dyn Progress,
) -> Result<()> {
    let from = run.stacks[side.index()];
    progress.note(&format!(
        "step {n}: {} end: {} -> {}",
        side.as_str(),
        from.as_str(),
        to.as_str()
    ));
    if run.tunnel.is_some() {
        return tunnel_switch(run, n, side, to);
    }
    if from == Stack::Xfrm {
        let note = state_note(run, &format!("step {n}"), side)?;
        progress.note(&note);
        run.notes.push(note);
    }
    let key = run.plan.cipher.key.clone();
    run.rotate(&Side::BOTH, &key)?;
    let plan = run.plan;
    let end = run.topo.end(side);
    end.ns
        .run(xfrm::flush)
        .context("xfrm thread")?
        .with_context(|| format!("step {n}: flushing the {} end's xfrm", side.as_str()))?;
    // The kernel subtracts its own ESP overhead from the route's MTU.
    let mtu = match to {
        Stack::Bpf => plan.inner_mtu(),
        _ => plan.mtu,
    };
    let (ifname, addr) = (end.ifname, plan.addr(side));
    end.ns
        .run(move || topology::set_route_mtu(ifname, addr, mtu))
        .context("netlink thread")??;
    match to {
        Stack::Xfrm => {
            run.planes
                .get_mut(side.as_str())
                .expect("a data plane on each end")
                .detach();
            let spis = (
                run.keys.out_spi(plan, side),
                run.keys.out_spi(plan, side.peer()),
            );
            let end = run.topo.end(side);
            end.ns
                .run(|| install(plan, side, spis))
                .context("xfrm thread")?
                .with_context(|| format!("step {n}: the {} end's xfrm SAs", side.as_str()))?;
            run.xfrm_used[side.index()] = true;
        }
        Stack::Bpf => {
            let dp = run
                .planes
                .get_mut(side.as_str())
                .expect("a data plane on each end");
            attach(dp, run.topo.end(side))?;
        }
        Stack::Wireguard => unreachable!("a WireGuard run switches through its tunnel"),
    }
    run.stacks[side.index()] = to;
    Ok(())
}

/// The WireGuard switch: the data plane detached and the kernel's link
/// made, or the link removed and the data plane attached again.
fn tunnel_switch(run: &mut Run, n: usize, side: Side, to: Stack) -> Result<()> {
    let from = run.stacks[side.index()];
    if from == to {
        return Ok(());
    }
    let note = (run.tunnel.as_ref()).and_then(|t| t.kernel_note(&run.topo, side));
    if let Some(note) = note.filter(|_| from == Stack::Wireguard) {
        run.notes.push(format!("step {n}: {note}"));
    }
    let planes = &mut run.planes;
    let tunnel = run.tunnel.as_mut().expect("checked by the caller");
    match to {
        Stack::Bpf => {
            let dp = planes
                .get_mut(side.as_str())
                .expect("a data plane on each end");
            attach(dp, run.topo.end(side))?;
            let (dp, other) = (&planes[side.as_str()], &planes[side.peer().as_str()]);
            tunnel.hand_to_bpf(&run.topo, side, dp, other)
        }
        _ => {
            (planes
                .get_mut(side.as_str())
                .expect("a data plane on each end"))
            .detach();
            tunnel.hand_to_kernel(&run.topo, side, &planes[side.peer().as_str()])
        }
    }
    .with_context(|| format!("step {n}: the {} end to {}", side.as_str(), to.as_str()))?;
    run.stacks[side.index()] = to;
    Ok(())
}

/// The outbound and inbound state and policy of `side` (in its namespace):
/// `out_spi` is what it sends with, `in_spi` what its peer sends with.
fn install(plan: &Plan, side: Side, (out_spi, in_spi): (u32, u32)) -> Result<(), RequestError> {
    let esp = plan.wire.esp.as_ref().expect("stack steps are ESP only");
    let (me, peer) = (plan.addr(side).addr, plan.addr(side.peer()).addr);
    let sa = |spi, src, dst, reqid| XfrmSa {
        spi,
        src,
        dst,
        algs: algs(&plan.cipher.key, &esp.auth_key),
        replay_window: REPLAY_WINDOW,
        reqid,
    };
    xfrm::add_state(&sa(out_spi, me, peer, REQID_OUT))?;
    xfrm::add_state(&sa(in_spi, peer, me, REQID_IN))?;
    xfrm::add_policy(me, peer, PolicyDir::Out, REQID_OUT)?;
    xfrm::add_policy(peer, me, PolicyDir::In, REQID_IN)
}

/// What the kernel's states of `side` counted, for the notes.
fn state_note(run: &Run, when: &str, side: Side) -> Result<String> {
    let states = run
        .topo
        .end(side)
        .ns
        .run(xfrm::states)
        .context("xfrm thread")?
        .context("listing the xfrm states")?;
    let each: Vec<String> = states
        .iter()
        .map(|s| {
            format!(
                "SA {:#x} {} -> {}: {} packets, {} replayed, {} integrity failures",
                s.spi, s.src, s.dst, s.packets, s.replayed, s.integrity_failed
            )
        })
        .collect();
    Ok(format!(
        "{when}: {} end's xfrm: {}",
        side.as_str(),
        each.join("; ")
    ))
}

/// `/proc/net/xfrm_stat` of every end that used the kernel's IPsec, and a
/// note on the states of the ends still on it.
pub(crate) fn finish(run: &mut Run) -> Result<BTreeMap<String, BTreeMap<String, u64>>> {
    let mut out = BTreeMap::new();
    for side in Side::BOTH {
        if run.stacks[side.index()] == Stack::Xfrm {
            let note = state_note(run, "at the end", side)?;
            run.notes.push(note);
        }
        if run.xfrm_used[side.index()] {
            let stats = run
                .topo
                .end(side)
                .ns
                .run(xfrm::stats)
                .context("xfrm thread")?
                .context("reading xfrm_stat")?;
            out.insert(side.as_str().to_string(), stats);
        }
    }
    Ok(out)
}
