// SPDX-License-Identifier: GPL-2.0
//! Xenbus device states, as defined by Xen's `include/xen/interface/io/xenbus.h`, and the
//! frontend's reaction to the backend's state (Linux's `blkback_changed` in
//! `drivers/block/xen-blkfront.c` and `netback_changed` in `drivers/net/xen-netfront.c`).
//!
//! Each end publishes its state as a decimal string in its `state` xenstore node:
//!
//! | value | state          | meaning                                                  |
//! |-------|----------------|----------------------------------------------------------|
//! | 0     | Unknown        | node missing / not yet written                           |
//! | 1     | Initialising   | setting up                                               |
//! | 2     | InitWait       | backend: early init done, waiting for the frontend       |
//! | 3     | Initialised    | frontend: rings and event channel published              |
//! | 4     | Connected      | running                                                  |
//! | 5     | Closing        | shutting down (error or unplug)                          |
//! | 6     | Closed         | shut down                                                |
//! | 7     | Reconfiguring  | (pciback only)                                           |
//! | 8     | Reconfigured   | (pciback only)                                           |
//!
//! The state value is read from xenstore, so it is untrusted: [`XenbusState::parse`] refuses
//! anything but a plain decimal in range.

/// `enum xenbus_state`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum XenbusState {
    /// `XenbusStateUnknown`.
    Unknown = 0,
    /// `XenbusStateInitialising`.
    Initialising = 1,
    /// `XenbusStateInitWait`.
    InitWait = 2,
    /// `XenbusStateInitialised`.
    Initialised = 3,
    /// `XenbusStateConnected`.
    Connected = 4,
    /// `XenbusStateClosing`.
    Closing = 5,
    /// `XenbusStateClosed`.
    Closed = 6,
    /// `XenbusStateReconfiguring`.
    Reconfiguring = 7,
    /// `XenbusStateReconfigured`.
    Reconfigured = 8,
}

/// Every state, in value order.
pub const ALL_STATES: [XenbusState; 9] = [
    XenbusState::Unknown,
    XenbusState::Initialising,
    XenbusState::InitWait,
    XenbusState::Initialised,
    XenbusState::Connected,
    XenbusState::Closing,
    XenbusState::Closed,
    XenbusState::Reconfiguring,
    XenbusState::Reconfigured,
];

/// Errors of state parsing and of the frontend state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateError {
    /// A number outside 0..=8.
    OutOfRange(u32),
    /// The xenstore string is not a plain decimal number (empty, sign, spaces, letters,
    /// overflow).
    Garbage,
    /// Our own state is one a frontend never enters (Unknown, InitWait, Reconfiguring,
    /// Reconfigured): a driver bug.
    InvalidFrontendState(XenbusState),
    /// The backend went back to a set-up state while we were connected (it restarted without
    /// closing). Linux ignores this silently; the caller should log it and may close the device.
    BackendWentBack {
        /// Our state.
        ours: XenbusState,
        /// The backend's.
        backend: XenbusState,
    },
}

impl XenbusState {
    /// The state with value `v`.
    ///
    /// # Errors
    /// [`StateError::OutOfRange`] for values above 8.
    pub const fn from_u32(v: u32) -> Result<Self, StateError> {
        if v as usize >= ALL_STATES.len() {
            return Err(StateError::OutOfRange(v));
        }
        Ok(ALL_STATES[v as usize])
    }

    /// Parses the contents of a `state` node: ASCII decimal digits, optionally followed by one
    /// NUL (some writers include it). Leading zeros are accepted ("04" is 4).
    ///
    /// Linux's `xenbus_read_driver_state` uses `%d` and treats a failure as Unknown; here the
    /// failure is an error and the caller decides (usually: treat as Unknown, and log).
    ///
    /// # Errors
    /// [`StateError::Garbage`] if it is not a decimal number, [`StateError::OutOfRange`] if the
    /// number is above 8.
    pub fn parse(s: &[u8]) -> Result<Self, StateError> {
        let s = s.strip_suffix(&[0]).unwrap_or(s);
        if s.is_empty() {
            return Err(StateError::Garbage);
        }
        let mut v: u32 = 0;
        for &c in s {
            if !c.is_ascii_digit() {
                return Err(StateError::Garbage);
            }
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u32::from(c - b'0')))
                .ok_or(StateError::Garbage)?;
        }
        Self::from_u32(v)
    }

    /// The decimal string written to xenstore ("4" for Connected).
    pub const fn as_xenstore_str(self) -> &'static str {
        match self {
            Self::Unknown => "0",
            Self::Initialising => "1",
            Self::InitWait => "2",
            Self::Initialised => "3",
            Self::Connected => "4",
            Self::Closing => "5",
            Self::Closed => "6",
            Self::Reconfiguring => "7",
            Self::Reconfigured => "8",
        }
    }

    /// Linux's `xenbus_strstate` name ("Connected", "InitWait", …).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Unknown => "Unknown",
            Self::Initialising => "Initialising",
            Self::InitWait => "InitWait",
            Self::Initialised => "Initialised",
            Self::Connected => "Connected",
            Self::Closing => "Closing",
            Self::Closed => "Closed",
            Self::Reconfiguring => "Reconfiguring",
            Self::Reconfigured => "Reconfigured",
        }
    }
}

/// How a frontend connects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrontendStyle {
    /// blkfront: on backend InitWait publish and go Initialised; on backend Connected read the
    /// backend's details and go Connected.
    TwoStep,
    /// netfront: on backend InitWait publish and go straight to Connected.
    OneStep,
}

/// What the frontend does when the backend's state changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrontendAction {
    /// Nothing (transient, irrelevant or already handled state).
    None,
    /// Allocate rings and event channel, publish them in xenstore, switch to Initialised
    /// (blkfront's `talk_to_blkback`).
    Publish,
    /// Publish (if `publish_first`), read the backend's details, bring the device up and switch
    /// to Connected (blkfront's `blkfront_connect`, netfront's `xennet_connect`).
    Connect {
        /// Whether [`FrontendAction::Publish`]'s work must be done first.
        publish_first: bool,
    },
    /// Already connected and the backend re-announced Connected: re-read what may have changed
    /// (blkfront: the disk size; netfront: notify peers).
    Refresh,
    /// Stop I/O and switch to Closed (`blkfront_closing`, `xenbus_frontend_closed`).
    Close,
    /// We are Closed and the backend starts over: reset and switch to Initialising, then follow
    /// the normal path (`xenbus_reset_state`-style reconnect).
    Reconnect,
}

/// The frontend's reaction to the backend entering `backend` while we are in `ours`.
///
/// Follows Linux's `blkback_changed` ([`FrontendStyle::TwoStep`]) and `netback_changed`
/// ([`FrontendStyle::OneStep`]), with these deliberate differences:
/// - backend Connected while we are Closing does nothing (blkfront would reconnect half-closed);
/// - backend Initialising/InitWait/Initialised while we are Connected is reported as
///   [`StateError::BackendWentBack`] (Linux ignores it) — except InitWait for a one-step frontend,
///   which is normal: netfront is Connected before the backend sees it;
/// - backend InitWait or Connected while we are Closed asks for [`FrontendAction::Reconnect`];
/// - backend Closed while we are Closing (we started the close) completes it with
///   [`FrontendAction::Close`] (blkfront's `blkfront_closing` returns early there).
///
/// # Errors
/// [`StateError::InvalidFrontendState`] if `ours` is not a frontend state,
/// [`StateError::BackendWentBack`] as above.
pub const fn frontend_action(
    style: FrontendStyle,
    ours: XenbusState,
    backend: XenbusState,
) -> Result<FrontendAction, StateError> {
    use FrontendAction as A;
    use XenbusState as S;
    match ours {
        S::Unknown | S::InitWait | S::Reconfiguring | S::Reconfigured => {
            return Err(StateError::InvalidFrontendState(ours))
        }
        S::Initialising | S::Initialised | S::Connected | S::Closing | S::Closed => {}
    }
    let two_step = matches!(style, FrontendStyle::TwoStep);
    Ok(match backend {
        S::Unknown | S::Reconfiguring | S::Reconfigured => A::None,
        S::Initialising | S::Initialised => match ours {
            S::Connected => return Err(StateError::BackendWentBack { ours, backend }),
            _ => A::None,
        },
        S::InitWait => match ours {
            S::Initialising if two_step => A::Publish,
            S::Initialising => A::Connect {
                publish_first: true,
            },
            S::Connected if two_step => return Err(StateError::BackendWentBack { ours, backend }),
            S::Closed => A::Reconnect,
            _ => A::None,
        },
        S::Connected => match ours {
            S::Initialising if two_step => A::Connect {
                publish_first: true,
            },
            S::Initialised if two_step => A::Connect {
                publish_first: false,
            },
            // One-step frontends connect on InitWait only.
            S::Initialising | S::Initialised => A::None,
            S::Connected => A::Refresh,
            S::Closed => A::Reconnect,
            _ => A::None,
        },
        S::Closing => match ours {
            // blkfront_closing returns early when already Closing; Closed is done.
            S::Closing | S::Closed => A::None,
            _ => A::Close,
        },
        // "Missed the backend's Closing state".
        S::Closed => match ours {
            S::Closed => A::None,
            _ => A::Close,
        },
    })
}

/// Where a frontend goes once the backend has closed and its rings are torn down.
///
/// While the toolstack still wants the device (`online` = 1 in the backend's directory) the
/// backend is restarting (Linux's netback, which cannot re-bind, is unbound and bound again;
/// blkback's `frontend_changed` "prepare for reconnect"): the frontend announces Initialising, so
/// that the new backend instance, which closes on a Closed frontend, moves to InitWait and the
/// normal connect path runs again. When the toolstack is removing the device (`online` = 0, or
/// the node is gone) the frontend stays Closed (Linux's `xenbus_frontend_closed`).
pub const fn state_after_backend_closed(backend_online: bool) -> XenbusState {
    if backend_online {
        XenbusState::Initialising
    } else {
        XenbusState::Closed
    }
}

/// The state the frontend is in after successfully performing `action` (for `action` ≠
/// [`FrontendAction::None`]; `None` keeps `ours`).
pub const fn state_after(ours: XenbusState, action: FrontendAction) -> XenbusState {
    match action {
        FrontendAction::None => ours,
        FrontendAction::Publish => XenbusState::Initialised,
        FrontendAction::Connect { .. } | FrontendAction::Refresh => XenbusState::Connected,
        FrontendAction::Close => XenbusState::Closed,
        FrontendAction::Reconnect => XenbusState::Initialising,
    }
}

/// Walks a device left behind by an earlier frontend (modules unloaded and loaded again, kexec)
/// back to a fresh start, as Linux's `xenbus_reset_frontend` (`xenbus_probe_frontend.c`): for our
/// state `fe` and the backend's `be`, the steps `(state we write, backend state we then wait
/// for)`. Empty when there is nothing to reset: our state is not Connected, Closing or Closed (a
/// new device is Initialising), or the backend is in a state the walk does not start from. The
/// caller only resets a device whose backend `online` node is 1 (else the toolstack is removing
/// it).
pub fn reset_steps(fe: XenbusState, be: XenbusState) -> &'static [(XenbusState, XenbusState)] {
    use XenbusState as S;
    const WALK: [(S, S); 3] = [
        (S::Closing, S::Closing),
        (S::Closed, S::Closed),
        (S::Initialising, S::InitWait),
    ];
    if !matches!(fe, S::Connected | S::Closing | S::Closed) {
        return &[];
    }
    match be {
        S::Connected => &WALK,
        S::Closing => &WALK[1..],
        // Closed: blkback then says "prepare for reconnect"; InitWait: it already waits.
        S::Closed | S::InitWait => &WALK[2..],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FrontendAction as A;
    use FrontendStyle::{OneStep, TwoStep};
    use XenbusState as S;

    #[test]
    fn reconnect_after_backend_closed() {
        assert_eq!(state_after_backend_closed(true), S::Initialising);
        assert_eq!(state_after_backend_closed(false), S::Closed);
        // A restarted backend's InitWait then connects a one-step frontend from there.
        let ours = state_after_backend_closed(true);
        assert_eq!(
            frontend_action(OneStep, ours, S::InitWait),
            Ok(A::Connect {
                publish_first: true
            })
        );
    }

    #[test]
    fn values_match_the_header() {
        for (i, s) in ALL_STATES.iter().enumerate() {
            assert_eq!(*s as u32, i as u32);
            assert_eq!(S::from_u32(i as u32), Ok(*s));
            assert_eq!(S::parse(s.as_xenstore_str().as_bytes()), Ok(*s));
        }
        assert_eq!(S::Connected as u32, 4);
        assert_eq!(S::Closed as u32, 6);
        assert_eq!(S::Reconfigured as u32, 8);
        assert_eq!(S::InitWait.name(), "InitWait");
        assert_eq!(S::from_u32(9), Err(StateError::OutOfRange(9)));
    }

    #[test]
    fn parsing_garbage() {
        assert_eq!(S::parse(b"4\0"), Ok(S::Connected));
        assert_eq!(S::parse(b"04"), Ok(S::Connected));
        for bad in [
            &b""[..],
            b"\0",
            b" 4",
            b"4 ",
            b"+4",
            b"-1",
            b"4\0\0",
            b"x",
            b"4\n",
            b"0x4",
        ] {
            assert_eq!(S::parse(bad), Err(StateError::Garbage), "{bad:?}");
        }
        assert_eq!(S::parse(b"9"), Err(StateError::OutOfRange(9)));
        assert_eq!(
            S::parse(b"4294967295"),
            Err(StateError::OutOfRange(u32::MAX))
        );
        assert_eq!(S::parse(b"4294967296"), Err(StateError::Garbage));
        assert_eq!(S::parse(b"99999999999999999999"), Err(StateError::Garbage));
    }

    /// The whole table, one row per frontend state, one column per backend state
    /// (Unknown, Initialising, InitWait, Initialised, Connected, Closing, Closed, Reconfiguring,
    /// Reconfigured). `E` marks BackendWentBack.
    #[test]
    fn exhaustive_two_step_table() {
        const N: Option<A> = Some(A::None);
        const E: Option<A> = None;
        const P: Option<A> = Some(A::Publish);
        const CP: Option<A> = Some(A::Connect {
            publish_first: true,
        });
        const C: Option<A> = Some(A::Connect {
            publish_first: false,
        });
        const R: Option<A> = Some(A::Refresh);
        const X: Option<A> = Some(A::Close);
        const RC: Option<A> = Some(A::Reconnect);
        let table = [
            (S::Initialising, [N, N, P, N, CP, X, X, N, N]),
            (S::Initialised, [N, N, N, N, C, X, X, N, N]),
            (S::Connected, [N, E, E, E, R, X, X, N, N]),
            (S::Closing, [N, N, N, N, N, N, X, N, N]),
            (S::Closed, [N, N, RC, N, RC, N, N, N, N]),
        ];
        for (ours, row) in table {
            for (backend, want) in ALL_STATES.iter().zip(row) {
                let got = frontend_action(TwoStep, ours, *backend);
                match want {
                    Some(a) => assert_eq!(got, Ok(a), "{ours:?} / {backend:?}"),
                    None => assert_eq!(
                        got,
                        Err(StateError::BackendWentBack {
                            ours,
                            backend: *backend
                        }),
                        "{ours:?} / {backend:?}"
                    ),
                }
            }
        }
    }

    #[test]
    fn exhaustive_one_step_table() {
        const N: Option<A> = Some(A::None);
        const E: Option<A> = None;
        const CP: Option<A> = Some(A::Connect {
            publish_first: true,
        });
        const R: Option<A> = Some(A::Refresh);
        const X: Option<A> = Some(A::Close);
        const RC: Option<A> = Some(A::Reconnect);
        let table = [
            (S::Initialising, [N, N, CP, N, N, X, X, N, N]),
            (S::Initialised, [N, N, N, N, N, X, X, N, N]),
            (S::Connected, [N, E, N, E, R, X, X, N, N]),
            (S::Closing, [N, N, N, N, N, N, X, N, N]),
            (S::Closed, [N, N, RC, N, RC, N, N, N, N]),
        ];
        for (ours, row) in table {
            for (backend, want) in ALL_STATES.iter().zip(row) {
                let got = frontend_action(OneStep, ours, *backend);
                match want {
                    Some(a) => assert_eq!(got, Ok(a), "{ours:?} / {backend:?}"),
                    None => assert!(
                        matches!(got, Err(StateError::BackendWentBack { .. })),
                        "{ours:?} / {backend:?}"
                    ),
                }
            }
        }
    }

    #[test]
    fn invalid_frontend_states() {
        for ours in [S::Unknown, S::InitWait, S::Reconfiguring, S::Reconfigured] {
            for backend in ALL_STATES {
                for style in [OneStep, TwoStep] {
                    assert_eq!(
                        frontend_action(style, ours, backend),
                        Err(StateError::InvalidFrontendState(ours))
                    );
                }
            }
        }
    }

    /// A simulated handshake reaches Connected and a close reaches Closed, for both styles.
    #[test]
    fn handshake_walks() {
        for style in [OneStep, TwoStep] {
            let mut ours = S::Initialising;
            for backend in [S::Initialising, S::InitWait, S::Connected, S::Connected] {
                let a = frontend_action(style, ours, backend).unwrap();
                ours = state_after(ours, a);
            }
            assert_eq!(ours, S::Connected, "{style:?}");
            for backend in [S::Closing, S::Closed] {
                let a = frontend_action(style, ours, backend).unwrap();
                ours = state_after(ours, a);
            }
            assert_eq!(ours, S::Closed, "{style:?}");
            // Backend comes back: reconnect from scratch.
            let a = frontend_action(style, ours, S::InitWait).unwrap();
            assert_eq!(a, A::Reconnect);
            assert_eq!(state_after(ours, a), S::Initialising);
        }
    }

    #[test]
    fn reset_walks_the_backend_back_to_initwait() {
        assert_eq!(
            reset_steps(S::Closed, S::Closed),
            &[(S::Initialising, S::InitWait)]
        );
        assert_eq!(
            reset_steps(S::Closed, S::InitWait),
            &[(S::Initialising, S::InitWait)]
        );
        assert_eq!(
            reset_steps(S::Connected, S::Connected),
            &[
                (S::Closing, S::Closing),
                (S::Closed, S::Closed),
                (S::Initialising, S::InitWait)
            ]
        );
        assert_eq!(reset_steps(S::Closing, S::Closing).len(), 2);
        // A new device, or a backend not set up: nothing to do.
        for be in ALL_STATES {
            assert!(reset_steps(S::Initialising, be).is_empty());
            assert!(reset_steps(S::Unknown, be).is_empty());
        }
        assert!(reset_steps(S::Closed, S::Unknown).is_empty());
        assert!(reset_steps(S::Closed, S::Initialised).is_empty());
    }
}
