//! `--dataplane PATH.bpf.o` and a scenario's `dataplane:`: the user's
//! object replaces the lab's build, after its ELF and BTF were checked
//! against the ABI on the host (every problem named, exit 2) and against
//! what the scenario needs of it.

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::dataplane::contract::{self, Contract};
use crate::spec::dataplane::UserDataplane;
use crate::spec::plan::{Plan, PlanStep};

/// Reads the object of `--dataplane` (if given: it replaces the
/// scenario's), checks whichever object the plan then names, and returns
/// what the check found (`None` when the lab's own build runs).
pub(crate) fn apply(plan: &mut Plan, flag: Option<&Path>) -> Result<Option<Contract>> {
    if let Some(path) = flag {
        plan.dataplane = Some(read(path)?);
    }
    let Some(user) = &mut plan.dataplane else {
        return Ok(None);
    };
    let c = check(user)?;
    let user = &*user;
    if c.format != plan.wire.mode {
        bail!(
            "{}: the object follows the {} ABI, but scenario {} ({}) runs the {} format (cipher.mode)",
            user.path,
            c.format.as_str(),
            plan.name,
            plan.source,
            plan.wire.mode.as_str()
        );
    }
    if !c.tamper
        && let Some(i) = plan
            .steps
            .iter()
            .position(|s| matches!(s, PlanStep::Tamper { .. }))
    {
        bail!(
            "{}: scenario {} ({}) step {} tampers with the wire, which needs the object's \
             optional `tamper_egress` program and `tamper` map (docs/dataplane-abi.md)",
            user.path,
            plan.name,
            plan.source,
            i + 1
        );
    }
    Ok(Some(c))
}

/// Reads the object at `path` (`--dataplane`).
fn read(path: &Path) -> Result<UserDataplane> {
    UserDataplane::read(path).with_context(|| format!("--dataplane {}", path.display()))
}

/// Reads `--dataplane`'s object and checks it, its format recorded.
pub(crate) fn read_checked(path: &Path) -> Result<(UserDataplane, Contract)> {
    let mut user = read(path)?;
    let c = check(&mut user)?;
    Ok((user, c))
}

/// Checks `user` against the ABI and records its format, which the job
/// then takes from it (no second check on the kernel under test).
fn check(user: &mut UserDataplane) -> Result<Contract> {
    let c = contract::check(&user.bytes).with_context(|| format!("data plane {}", user.path))?;
    user.format = Some(c.format);
    Ok(c)
}
