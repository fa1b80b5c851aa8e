//! The keys of a scenario's two data planes, as the wire format keys them.
//! A format without security associations has one crypto context per end,
//! replaced in place. One with SAs (ESP) has each end send with its own SPI
//! per key generation, and a rotation is make before break: the receiver
//! accepts the new SPI first, then the sender switches, and the old inbound
//! SA stays one generation longer for the packets still in flight.

use std::collections::BTreeSet;

use anyhow::{Context, Result};

use crate::dataplane::DataPlane;
use crate::dataplane::format::{self, Keys, SaDir, WireFormat};
use crate::domain::Side;
use crate::spec::plan::{EspSpec, Plan};

/// What is installed where.
#[derive(Debug, Default)]
pub(crate) struct KeyState {
    /// Key generation each end sends with (formats with SAs).
    generation: [u32; 2],
    /// Installed SAs: (end, outbound, SPI).
    installed: BTreeSet<(usize, bool, u32)>,
}

/// The two data planes, by end.
pub(crate) type Planes<'a> = dyn Fn(Side) -> &'a DataPlane + 'a;

/// The scenario's wire format.
fn wire_format(plan: &Plan) -> &'static dyn WireFormat {
    format::of(plan.wire.mode)
}

/// The SA parameters of a format with SAs.
fn sas(plan: &Plan) -> Result<&EspSpec> {
    plan.wire
        .esp
        .as_ref()
        .context("a wire format with security associations needs their SPI and keys")
}

/// `plan`'s cipher with `key` and the authentication key, no SPIs yet.
fn keys<'a>(plan: &'a Plan, key: &'a [u8]) -> Keys<'a> {
    let auth = plan.wire.esp.as_ref().map_or(&[][..], |e| &e.auth_key);
    Keys::new(plan.cipher.algorithm, key, auth)
}

impl KeyState {
    /// Installs the scenario's first key on both ends, as the format
    /// provisions a data plane (with SAs: each end's inbound and outbound
    /// SA of generation 0, recorded for rotations).
    pub(crate) fn install(&mut self, plan: &Plan, plane: &Planes) -> Result<()> {
        let f = wire_format(plan);
        for side in Side::BOTH {
            let mut k = keys(plan, &plan.cipher.key);
            if f.has_sas() {
                let esp = sas(plan)?;
                k = k.spis(esp.spi(side.peer(), 0), esp.spi(side, 0));
                self.installed.insert((side.index(), false, k.spi_in));
                self.installed.insert((side.index(), true, k.spi_out));
            }
            f.provision(plane(side), &k).with_context(|| {
                format!(
                    "provisioning the {} key on the {} end",
                    plan.cipher.algorithm.kernel_name(),
                    side.as_str()
                )
            })?;
        }
        Ok(())
    }

    /// The SPI `side` sends with now (formats with SAs).
    pub(crate) fn out_spi(&self, plan: &Plan, side: Side) -> u32 {
        let esp = plan.wire.esp.as_ref().expect("SPIs are SA formats' only");
        esp.spi(side, self.generation[side.index()])
    }

    /// Rotates `sides` to `key` (with the scenario's algorithm).
    pub(crate) fn rotate(
        &mut self,
        plan: &Plan,
        plane: &Planes,
        sides: &[Side],
        key: &[u8],
    ) -> Result<()> {
        let f = wire_format(plan);
        if !f.has_sas() {
            for side in sides {
                f.provision(plane(*side), &keys(plan, key))
                    .with_context(|| format!("provisioning the {} end", side.as_str()))?;
            }
            return Ok(());
        }
        let esp = sas(plan)?;
        let old = self.generation;
        let mut new = old;
        for s in sides {
            new[s.index()] += 1;
        }
        // 1. Receivers first: the peer of each rotating end accepts its new
        //    SPI; an end whose peer keeps its generation now decrypts the
        //    peer's current SPI with the new key.
        for s in sides {
            let p = s.peer();
            self.add(plan, plane, p, SaDir::In, esp.spi(*s, new[s.index()]), key)?;
            if !sides.contains(&p) {
                let spi = esp.spi(p, old[p.index()]);
                self.del(plan, plane, *s, SaDir::In, spi)?;
                self.add(plan, plane, *s, SaDir::In, spi, key)?;
            }
        }
        // 2. Senders switch; 3. the old outbound SAs go, and the inbound
        //    ones of two generations back.
        for s in sides {
            self.add(
                plan,
                plane,
                *s,
                SaDir::Out,
                esp.spi(*s, new[s.index()]),
                key,
            )?;
        }
        for s in sides {
            self.del(plan, plane, *s, SaDir::Out, esp.spi(*s, old[s.index()]))?;
            if let Some(g) = old[s.index()].checked_sub(1) {
                self.del(plan, plane, s.peer(), SaDir::In, esp.spi(*s, g))?;
            }
        }
        self.generation = new;
        Ok(())
    }

    /// Removes the keys of `sides`: both directions are dropped from then
    /// on (fail closed).
    pub(crate) fn clear(&mut self, plan: &Plan, plane: &Planes, sides: &[Side]) -> Result<()> {
        for s in sides {
            let mine: Vec<(bool, u32)> = self
                .installed
                .iter()
                .filter(|(i, ..)| *i == s.index())
                .map(|(_, out, spi)| (*out, *spi))
                .collect();
            for (out, spi) in mine {
                let dir = if out { SaDir::Out } else { SaDir::In };
                self.del(plan, plane, *s, dir, spi)?;
            }
            wire_format(plan)
                .clear(plane(*s))
                .with_context(|| format!("removing the keys of the {} end", s.as_str()))?;
        }
        Ok(())
    }

    fn add(
        &mut self,
        plan: &Plan,
        plane: &Planes,
        side: Side,
        dir: SaDir,
        spi: u32,
        key: &[u8],
    ) -> Result<()> {
        wire_format(plan)
            .add_sa(plane(side), dir, &keys(plan, key).spis(spi, spi))
            .with_context(|| format!("adding SA {spi:#x} on the {} end", side.as_str()))?;
        self.installed
            .insert((side.index(), dir == SaDir::Out, spi));
        Ok(())
    }

    fn del(&mut self, plan: &Plan, plane: &Planes, side: Side, dir: SaDir, spi: u32) -> Result<()> {
        if self
            .installed
            .remove(&(side.index(), dir == SaDir::Out, spi))
        {
            wire_format(plan)
                .del_sa(plane(side), dir, spi)
                .with_context(|| format!("removing SA {spi:#x} on the {} end", side.as_str()))?;
        }
        Ok(())
    }
}
