//! The keys of a scenario's two data planes. The raw format has one crypto
//! context per end, replaced in place. ESP has security associations: each
//! end sends with its own SPI per key generation, and a rotation is make
//! before break: the receiver accepts the new SPI first, then the sender
//! switches, and the old inbound SA stays one generation longer for the
//! packets still in flight.

use std::collections::BTreeSet;

use anyhow::{Context, Result};

use crate::dataplane::DataPlane;
use crate::dataplane::esp::{Sa, SaDir};
use crate::domain::{CipherSpec, Side};
use crate::spec::plan::{EspSpec, Plan};

/// What is installed where.
#[derive(Debug, Default)]
pub(crate) struct KeyState {
    /// Key generation each end sends with (ESP).
    generation: [u32; 2],
    /// Installed SAs: (end, outbound, SPI).
    installed: BTreeSet<(usize, bool, u32)>,
}

/// The two data planes, by end.
pub(crate) type Planes<'a> = dyn Fn(Side) -> &'a DataPlane + 'a;

impl KeyState {
    /// Installs the scenario's first key on both ends.
    pub(crate) fn install(&mut self, plan: &Plan, plane: &Planes) -> Result<()> {
        match &plan.wire.esp {
            None => {
                for side in Side::BOTH {
                    plane(side).provision(&plan.cipher).with_context(|| {
                        format!(
                            "provisioning the {} key on the {} end",
                            plan.cipher.algorithm.kernel_name(),
                            side.as_str()
                        )
                    })?;
                }
                Ok(())
            }
            Some(esp) => {
                for side in Side::BOTH {
                    self.add(
                        plane,
                        esp,
                        side,
                        SaDir::In,
                        esp.spi(side.peer(), 0),
                        &plan.cipher.key,
                    )?;
                    self.add(
                        plane,
                        esp,
                        side,
                        SaDir::Out,
                        esp.spi(side, 0),
                        &plan.cipher.key,
                    )?;
                }
                Ok(())
            }
        }
    }

    /// The SPI `side` sends with now (ESP).
    pub(crate) fn out_spi(&self, plan: &Plan, side: Side) -> u32 {
        let esp = plan.wire.esp.as_ref().expect("SPIs are ESP only");
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
        let Some(esp) = &plan.wire.esp else {
            let spec = CipherSpec {
                algorithm: plan.cipher.algorithm,
                key: key.to_vec(),
            };
            for side in sides {
                plane(*side)
                    .provision(&spec)
                    .with_context(|| format!("provisioning the {} end", side.as_str()))?;
            }
            return Ok(());
        };
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
            self.add(plane, esp, p, SaDir::In, esp.spi(*s, new[s.index()]), key)?;
            if !sides.contains(&p) {
                let spi = esp.spi(p, old[p.index()]);
                self.del(plane, *s, SaDir::In, spi)?;
                self.add(plane, esp, *s, SaDir::In, spi, key)?;
            }
        }
        // 2. Senders switch; 3. the old outbound SAs go, and the inbound
        //    ones of two generations back.
        for s in sides {
            self.add(plane, esp, *s, SaDir::Out, esp.spi(*s, new[s.index()]), key)?;
        }
        for s in sides {
            self.del(plane, *s, SaDir::Out, esp.spi(*s, old[s.index()]))?;
            if let Some(g) = old[s.index()].checked_sub(1) {
                self.del(plane, s.peer(), SaDir::In, esp.spi(*s, g))?;
            }
        }
        self.generation = new;
        Ok(())
    }

    /// Removes the keys of `sides`: both directions are dropped from then
    /// on (fail closed).
    pub(crate) fn clear(&mut self, plan: &Plan, plane: &Planes, sides: &[Side]) -> Result<()> {
        for s in sides {
            if plan.wire.esp.is_none() {
                plane(*s).clear_key()?;
                continue;
            }
            let mine: Vec<(bool, u32)> = self
                .installed
                .iter()
                .filter(|(i, ..)| *i == s.index())
                .map(|(_, out, spi)| (*out, *spi))
                .collect();
            for (out, spi) in mine {
                let dir = if out { SaDir::Out } else { SaDir::In };
                self.del(plane, *s, dir, spi)?;
            }
        }
        Ok(())
    }

    fn add(
        &mut self,
        plane: &Planes,
        esp: &EspSpec,
        side: Side,
        dir: SaDir,
        spi: u32,
        key: &[u8],
    ) -> Result<()> {
        let sa = Sa {
            spi,
            dir,
            enc_key: key,
            auth_key: &esp.auth_key,
            activate: dir == SaDir::Out,
            seq_start: 0,
        };
        plane(side)
            .add_sa(&sa)
            .with_context(|| format!("adding SA {spi:#x} on the {} end", side.as_str()))?;
        self.installed
            .insert((side.index(), dir == SaDir::Out, spi));
        Ok(())
    }

    fn del(&mut self, plane: &Planes, side: Side, dir: SaDir, spi: u32) -> Result<()> {
        if self
            .installed
            .remove(&(side.index(), dir == SaDir::Out, spi))
        {
            plane(side)
                .del_sa(dir, spi)
                .with_context(|| format!("removing SA {spi:#x} on the {} end", side.as_str()))?;
        }
        Ok(())
    }
}
