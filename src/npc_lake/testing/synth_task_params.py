"""The parameters a TaskControl script saves beside its frame and trial arrays, as an NP rig saves them.

TaskControl writes every public attribute of the task object into its hdf5 file when the session ends, so
a real file holds the rig's configuration (devices, lines, monitor, sound and opto settings) whether the
session used it or not; readers such as DynamicRoutingTask's ``DynRoutData`` and npc_stim read several of
them unconditionally. The values below are those of a real DynamicRouting1 file
(``shared/realdata/dr/task_hdf5``) where the rig does not matter, and the NP rigs' settings in
TaskControl where it does; NaN stands for Python's None, as TaskControl stores it. Dtypes follow the real
file (int32 for Python ints, float64 for floats, variable-length bytes for strings).

:func:`taskcontrol_params` gives the parameters every script saves; :func:`dynamic_routing_params` adds
DynamicRouting1's own.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np

NONE = np.nan
#: The day TaskControl started writing a sound-running marker to sync line 1 on every rig (before it, sound
#: onsets are found in the NI-DAQ microphone/speaker recording of the Open Ephys session).
FIRST_SOUND_ON_SYNC_DATE = date(2023, 8, 31)
#: The day the galvo-running marker appeared on sync line 9 (and laser 633 on line 10).
FIRST_GALVO_ON_SYNC_DATE = date(2024, 4, 19)
SOUND_SAMPLE_RATE_DAQ = 200_000  # sound mode 'daq' (NI-DAQ analog output)
SOUND_SAMPLE_RATE_CARD = 48_000  # sound mode 'sound card'


def sound_on_sync(day: date) -> bool:
    """Whether the rigs recorded sounds on sync line 1 on ``day`` (and played them through the DAQ)."""
    return day >= FIRST_SOUND_ON_SYNC_DATE


def _i(value: int) -> np.int32:
    return np.int32(value)


def _ints(*values: int) -> np.ndarray[Any, np.dtype[np.int32]]:
    return np.array(values, dtype=np.int32)


def _empty() -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.empty(0, dtype=np.float64)


def taskcontrol_params(*, task_name: str, subject: str, start_text: str, rig: str, day: date,
                       n_frames: int) -> dict[str, Any]:
    """What every TaskControl script of an NP rig saves, whatever the task.

    Parameters
    ----------
    task_name
        The script's class (DynamicRouting1, RFMapping, OptoTagging, Spontaneous).
    subject, start_text
        ``subjectName`` and ``startTime`` (``YYYYmmdd_HHMMSS``).
    rig
        ``rigName`` (NP1, NP2 or NP3).
    day
        The session's date: the sound mode and lines the rig used depend on it.
    n_frames
        Frames the script showed (``lastFrame`` is the index of the last one).
    """
    daq_sound = sound_on_sync(day)
    path = f"C:\\ProgramData\\AIBS_MPE\\DynamicRouting\\{subject}\\{task_name}_{subject}_{start_text}.hdf5"
    return {
        "subjectName": subject.encode(), "startTime": start_text.encode(), "rigName": rig.encode(),
        "computerName": b"W10DT713843", "configPath": NONE, "githubTaskScript": NONE, "saveDir": NONE,
        "savePath": path.encode(), "saveParams": np.True_, "saveFrameIntervals": np.True_,
        "frameRate": _i(60), "screen": _i(1), "monWidth": 52.0, "monDistance": 15.3, "monGamma": NONE,
        "gammaErrorPolicy": b"warn", "monSizePix": _ints(1920, 1200), "monBackgroundColor": _i(0),
        "warp": NONE, "warpFile": NONE, "pixelsPerDeg": 16.12772471528669,
        "drawDiodeBox": np.True_, "diodeBoxSize": _i(120), "diodeBoxPosition": _ints(900, 540),
        "wheelRadius": 4.69, "wheelPolarity": _i(-1), "minWheelAngleChange": _i(0), "maxWheelAngleChange": 0.5,
        "rotaryEncoder": b"digital", "rotaryEncoderCh": _i(1), "rotaryEncoderSerialPort": b"COM3",
        "rotaryEncoderCountsPerRev": _i(8192), "rotaryEncoderVolts": _empty(),
        "networkNidaqDevices": np.array([b"zcDAQ9185-213AB43"], dtype=object),
        "behavNidaqDevice": b"Dev0", "behavNidaqDeviceSerialNum": _i(32947463),
        "rewardLine": _ints(0, 7), "rewardSoundLine": _ints(2, 0), "lickLine": _ints(0, 0),
        "digitalSolenoidTrigger": np.True_, "solenoidOpenTime": 0.04, "rewardSoundDeviceOpenTime": 0.01,
        "rewardVol": 0.005, "waterCalibrationSlope": NONE, "waterCalibrationIntercept": NONE,
        "microphoneCh": NONE, "microphoneData": _empty(),
        "syncNidaqDevice": b"Dev1", "frameSignalLine": _ints(1, 4), "acquisitionSignalLine": _ints(1, 7),
        "rewardSyncLine": _ints(2, 1),
        "soundMode": b"daq" if daq_sound else b"sound card",
        "soundNidaqDevice": b"zcDAQ9185-213AB43Mod1" if daq_sound else NONE,
        "soundNidaqDeviceSerialNum": _i(32947463) if daq_sound else NONE,
        "soundChannel": _ints(0, 1) if daq_sound else NONE,
        "soundSampleRate": _i(SOUND_SAMPLE_RATE_DAQ if daq_sound else SOUND_SAMPLE_RATE_CARD),
        "soundHanningDur": 0.005, "soundFilter": NONE, "soundCalibrationFit": NONE, "saveSoundArray": np.False_,
        "optoSampleRate": _i(2000), "optoNidaqDevice": b"zcDAQ9185-213AB43Mod4", "galvoChannels": _ints(0, 1),
        "optoChannels": NONE, "optoParamsPath": NONE, "spacebarRewardsEnabled": np.False_,
        "manualRewardFrames": _empty(), "deltaWheelPos": _empty(), "wheelPosRadians": _empty(),
        "lastFrame": _i(n_frames - 1), "maxFrames": NONE,
    }


def dynamic_routing_params(*, n_blocks: int, n_instruction: int, task_version: str) -> dict[str, Any]:
    """DynamicRouting1's own settings (block structure, stimuli, rewards, opto) as stage 5 ran them.

    Parameters
    ----------
    n_blocks
        Context blocks of the session.
    n_instruction
        Instruction trials opening each block: rewarded-target trials with a scheduled (free) reward.
    task_version
        ``taskVersion``.
    """
    return {
        "taskVersion": task_version.encode(), "maxFrames": _i(216000), "maxTrials": NONE,
        "blockCatchProb": np.full(n_blocks, 0.1), "blockStimProb": b"even sampling", "customSampling": np.False_,
        "evenSampling": np.True_, "minUnimodalTrials": _i(0), "firstBlockNogoStim": NONE, "framesPerBlock": NONE,
        "trialsPerBlock": NONE, "variableBlocks": np.False_, "variableBlockMinFrames": _i(36000),
        "variableBlockMaxFrames": _i(108000), "variableBlockThresholdTrials": _i(10),
        "variableBlockHitThreshold": 0.8, "variableBlockFalseAlarmThreshold": 0.4,
        "preStimFramesMax": _i(360), "preStimFramesVariableMean": _i(60),
        "newBlockAutoRewards": _i(n_instruction), "newBlockGoTrials": _i(n_instruction),
        "newBlockNogoTrials": _i(0), "newBlockCatchTrials": _i(0), "autoRewardMissTrials": _i(10),
        "incorrectTrialRepeats": _i(0), "incorrectTimeoutFrames": _i(0), "incorrectTimeoutColor": _i(0),
        "incorrectSound": NONE, "incorrectSoundDur": _i(3), "incorrectSoundFreq": _ints(2000, 20000),
        "incorrectSoundLevel": _i(68), "incorrectSoundVolume": 0.1,
        "rewardProbGo": _i(1), "rewardProbCatch": _i(0), "rewardSound": NONE, "rewardSoundDur": 0.1,
        "rewardSoundFreq": _i(10000), "rewardSoundLevel": _i(68), "rewardSoundVolume": 0.1,
        "visStimType": b"grating", "gratingEdge": b"raisedCos", "gratingEdgeBlurWidth": 0.08,
        "gratingPhase": np.array([0.0, 0.5]),
        "linearSweepFreq/sound1": _ints(6000, 10000), "linearSweepFreq/sound2": _ints(10000, 6000),
        "logSweepFreq/sound1": np.array([3.0, 2.5]), "logSweepFreq/sound2": np.array([3.0, 3.5]),
        "importOptoParams": np.False_, "optoParams": NONE, "optoProb": _i(0), "optoDevName": b"laser_488",
        "optoLabel": b"opto", "optoOnRamp": _i(0), "optoOffRamp": 0.1, "optoSinFreq": _i(0),
        "optoOffsetVoltage/laser_488": _i(0), "optoDur": _empty(), "optoVoltage": _empty(),
        "optoOnsetFrame": _empty(), "optoNewBlocks": _empty(), "optoFeedbackBlocks": _empty(),
        "galvoX": _empty(), "galvoY": _empty(), "galvoDwellTime": 0.005,
    }


__all__ = ["FIRST_GALVO_ON_SYNC_DATE", "FIRST_SOUND_ON_SYNC_DATE", "NONE", "dynamic_routing_params", "sound_on_sync",
           "taskcontrol_params"]
