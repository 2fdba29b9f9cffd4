// SPDX-License-Identifier: GPL-2.0
//! Connecting and disconnecting (Linux's `talk_to_netback`, `xennet_connect`,
//! `xennet_disconnect_backend`): the queues made, their keys written in one xenstore transaction,
//! the data path started and stopped. Process context, from the xenbus callbacks in
//! `netfront_main.rs`, under rtnl where it changes the queues.

use super::*;

/// Writes the keys of our queues (`tx-ring-ref`, `rx-ring-ref`, `event-channel[-tx|-rx]`; under
/// `queue-N/` with several queues, plus `multi-queue-num-queues`) and the features we offer, in
/// one transaction (netif.h "Multi-queue", "Split event channels").
pub(crate) fn write_keys(dev: &Device, queues: &[Arc<Queue>]) -> core::result::Result<(), Errno> {
    let x = dev.xdev;
    abi_xenbus_client::with_transaction(|tx| {
        let multi = queues.len() > 1;
        if multi {
            x.printf(
                tx,
                format_args!("multi-queue-num-queues"),
                format_args!("{}", queues.len()),
            )?;
        }
        for q in queues {
            // Under `queue-N/` with several queues (netif.h "Multi-queue").
            let w = |key: &str, v: u32| {
                if multi {
                    x.printf(
                        tx,
                        format_args!("queue-{}/{}", q.idx, key),
                        format_args!("{}", v),
                    )
                } else {
                    x.printf(tx, format_args!("{}", key), format_args!("{}", v))
                }
            };
            w("tx-ring-ref", q.tx_ring_page.gref(0))?;
            w("rx-ring-ref", q.rx_ring_page.gref(0))?;
            match &q.rx_port {
                None => w("event-channel", q.port.port().0)?,
                Some(rp) => {
                    w("event-channel-tx", q.port.port().0)?;
                    w("event-channel-rx", rp.port().0)?;
                }
            }
        }
        for k in [
            &b"request-rx-copy"[..],
            b"feature-rx-notify",
            b"feature-sg",
            b"feature-gso-tcpv4",
            b"feature-gso-tcpv6",
            b"feature-ipv6-csum-offload",
        ] {
            x.write(tx, k, b"1")?;
        }
        Ok(())
    })
}

/// Backend in InitWait: read its features, build the rings, publish them, go Connected.
pub(crate) fn connect(dev: &Arc<Device>) -> Result {
    let net = dev.net();
    if let Err(e) = dev.leaks.check(grant::MAX_LEAKED_PAGES_PER_DEVICE) {
        // A backend that keeps our pages mapped across reconnects would make us leak a set of
        // rings each time: stop here.
        pr_err!(
            "{}: backend kept {} of our pages mapped (more than {}): not connecting again\n",
            net.name(),
            e.leaked,
            e.limit
        );
        return Err(EBUSY);
    }
    let x = dev.xdev;
    let feats = Features::from_backend(|k| x.otherend_feature(k), |k| x.read_otherend_u32(k).ok());
    if !feats.rx_copy {
        pr_err!("{}: backend lacks feature-rx-copy\n", net.name());
        return Err(ENODEV);
    }
    // At most one queue per online CPU, whatever the backend offers or `max_queues` asks for
    // (as blkfront and Linux's netfront).
    let cpus = sys::num_online_cpus().clamp(1, sys::MAX_QUEUES as u32);
    let nq = feats.queues(max_queues(), cpus);
    // As Linux's `bounce = !xennet_trusted || !xenbus_read_unsigned(nodename, "trusted", 1)`.
    let direct = sys::param_trusted() && dev.xdev.own_flag(b"trusted", true);
    let mut queues = KVec::with_capacity(nq as usize, GFP_KERNEL)?;
    for i in 0..nq {
        queues.push(
            new_queue(dev, net, i, feats.split_evtchn, direct)?,
            GFP_KERNEL,
        )?;
    }
    // Every queue's keys are written (each write checked) or the connect fails here.
    write_keys(dev, &queues).map_err(|e| {
        pr_err!("{}: writing the ring keys failed: {}\n", net.name(), e);
        Error::from(e)
    })?;
    let mut rtnl = Rtnl::lock();
    let mut ctl = dev.ctl(&rtnl);
    let mut bindings = KVec::new();
    for (i, q) in queues.iter().enumerate() {
        let ports = [Some(q.port.port()), q.rx_port.as_ref().map(|p| p.port())];
        for port in ports.into_iter().flatten() {
            // Queue i's events (tx and rx) on CPU i mod n, with per-vCPU upcall vectors.
            port.spread(i as u32);
            // The handler only schedules NAPI, fine in hard IRQ context. On an error the
            // bindings made so far drop before the queues (declared after them).
            bindings.push(Binding::new(port, q.clone())?, GFP_KERNEL)?;
        }
    }
    // A device is connected only from disconnected (`connect` runs after `disconnect` or at
    // first), so its data path is stopped already; this proves it.
    let mut stopped = net.stop_data_path(&mut rtnl);
    let new = DataPath {
        _bindings: bindings,
        queues,
    };
    drop(dev.dp.replace(&mut stopped, new).map_err(|_| EINVAL)?);
    ctl.feats = feats;
    net.set_queues(stopped.rtnl(), nq)?;
    dev.nq.store(nq, Ordering::Relaxed);
    let mut nf = 0;
    if feats.sg {
        nf |= sys::F_SG;
    }
    if feats.ipv4_csum {
        nf |= sys::F_IPV4_CSUM;
    }
    if feats.ipv6_csum {
        nf |= sys::F_IPV6_CSUM;
    }
    if feats.gso_tcpv4 {
        nf |= sys::F_TSO;
    }
    if feats.gso_tcpv6 {
        nf |= sys::F_TSO6;
    }
    net.set_features(stopped.rtnl(), nf);
    dev.broken.store(false, Ordering::Release);
    dev.connected.store(true, Ordering::Release);
    if let Err(e) = dev.xdev.switch_state(XenbusState::Connected) {
        pr_err!("{}: cannot announce Connected: {}\n", net.name(), e);
        dev.connected.store(false, Ordering::Release);
        return Err(e.into());
    }
    ctl.state = XenbusState::Connected as u32;
    // Else `ndo_open` starts it.
    if net.running() {
        stopped.start(nq, true);
    }
    for q in dev.queues(&rtnl) {
        let _ = q.rxp().notify();
    }
    pr_info!(
        "{}: connected: queues {}, split-evtchn {}, rx-copy, sg {}, gso-tcpv4 {}, gso-tcpv6 {}, ipv4-csum {}, ipv6-csum {}, backend rx-notify {}, active features 0x{:x}, {}\n",
        net.name(),
        nq,
        u8::from(feats.split_evtchn),
        u8::from(feats.sg),
        u8::from(feats.gso_tcpv4),
        u8::from(feats.gso_tcpv6),
        u8::from(feats.ipv4_csum),
        u8::from(feats.ipv6_csum),
        u8::from(feats.rx_notify),
        net.active_features(),
        if direct {
            "trusted: tx pages granted in place"
        } else {
            "untrusted: tx and rx bounced"
        }
    );
    Ok(())
}

/// The `max_queues` parameter (as Linux's: 0 = min(8, online CPUs)).
pub(crate) fn max_queues() -> u32 {
    let mut v = sys::param_max_queues();
    if v == 0 {
        v = sys::num_online_cpus().min(sys::MAX_QUEUES as u32);
    }
    v.clamp(1, sys::MAX_QUEUES as u32)
}

/// `ndo_open`: NAPI on for the current queues (if any), transmit on if connected.
pub(crate) fn start_data_path(dev: &Device, rtnl: &mut Rtnl) {
    let net = dev.net();
    let nq = dev.queues(rtnl).len() as u32;
    net.stop_data_path(rtnl)
        .start(nq, dev.connected.load(Ordering::Acquire));
}

/// `ndo_stop`: transmit and NAPI off.
pub(crate) fn stop_data_path(dev: &Device, rtnl: &mut Rtnl) {
    let _stopped = dev.net().stop_data_path(rtnl);
}

/// Tears the rings down (backend closed, or device going away): data path stopped first, then
/// handlers unbound, then grants revoked and pages freed (or leaked if still mapped).
pub(crate) fn disconnect(dev: &Device) {
    let mut rtnl = Rtnl::lock();
    let ctl = dev.ctl(&rtnl);
    dev.connected.store(false, Ordering::Release);
    let net = dev.net();
    net.carrier(false);
    let before = dev.leaks.get();
    {
        let mut stopped = net.stop_data_path(&mut rtnl);
        // Bindings first, then the queues: revoked and freed.
        drop(dev.dp.replace(&mut stopped, DataPath::default()));
    }
    drop(ctl);
    drop(rtnl);
    let leaked = dev.leaks.get().saturating_sub(before);
    if leaked != 0 {
        {
            let n = dev.net();
            pr_warn!(
                "{}: {} pages still mapped by the backend: not reused, freed once it unmaps them ({} by this device)\n",
                n.name(),
                leaked,
                dev.leaks.get()
            );
        }
    }
}

pub(crate) fn set_state(dev: &Device, s: XenbusState) {
    let _ = dev.xdev.switch_state(s);
    let rtnl = Rtnl::lock();
    dev.ctl(&rtnl).state = s as u32;
}
